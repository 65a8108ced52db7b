"""The Flask service: HTTP only (parse the request, call the core in `recommender/`, format the answer)."""
