"""Hot items (爆款): goods whose orders in the last minutes burst above their own baseline, platform-wide, in one
live room, and re-ranked for one fan.

    config       HotConfig: every hot-items setting, declared once
    orders       Orders: a batch of orders to count
    counts       the windows every store keeps, and the in-process ring buckets, room slots and seen orders
    store        HotStore: what a store answers (counts, and coordination of the workers sharing it)
    memory       MemoryStore: one process
    redis_store  RedisStore: every worker and replica, over Redis
    burst        the Poisson burst test (detect) and its result (Bursts)
    lists        HotLists: the lists a service serves, cached, refreshed, stale when the store fails
    feed         the lists' goods resolved to model rows and sellers, and the fan feed's scoring
"""
