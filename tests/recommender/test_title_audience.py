"""What a good's title says about whom it is for."""

from __future__ import annotations

import pandas as pd

from recommender.title_audience import title_demographics, title_origin


def test_audience_words_name_a_gender_and_an_age_group():
    titles = pd.Series(["女士 口红 3.5g", "男款 学生 T恤", "中老年 保暖 棉鞋", "青年 少女 连衣裙", "保温杯 500ml"])
    said = title_demographics(titles)
    gender, age = said % 3, said // 3
    assert gender.tolist() == [1, 2, 0, 1, 0] and age.tolist() == [0, 1, 3, 1, 0]


def test_words_count_only_as_whole_tokens_and_clashing_words_say_nothing():
    titles = pd.Series(["学生党 眼影", "男女 女士 男士 同款 运动鞋", "女生 女士 睡衣", None])
    assert title_demographics(titles).tolist() == [0, 0, 1, 0]


def test_the_origin_is_a_place_of_the_fans_table_named_in_the_title():
    places = ["云南", "广东", "黑龙江"]
    titles = pd.Series(["云南 普洱 357g", "大米 5kg", "云南 广东 特产", "黑龙江 五常 大米"],
                       index=[10, 11, 12, 13])  # any index: positions count
    assert title_origin(titles, places).tolist() == [1, 0, 0, 3]
