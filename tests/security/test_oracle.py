"""The lookup oracle (issue 12, High): full numbers and names recovered from the masked ones.

As a curious colleague would, with nothing but a staff login: loop the list search over every
candidate phone behind a masked 159****7130 until the customer's link comes back, and loop single
characters over a masked 林**. Now the phone loop stops at the per-user limit (429) long before the
number is found and the audit team's home shows the alert; name search finds only one's own
customers, so the characters find nothing. On a server of its own: the limits reached here would
otherwise refuse the shared users' lookups.
"""

import random
import re
from urllib.parse import urlencode

import pytest

from tests.security.factory import register

# Characters common in Chinese names: surnames and given names, a few hundred.
COMMON = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
    "崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鑫斌宇浩凯健俊帆帅旭宁波亮飞建国志"
    "海林峰辉鹏成家文晨欣怡佳琳雪婷颖倩晶慧莉燕玲丹彤悦萱雨欢子轩梓涵一诺浩然宇航博文思远俊杰天佑"
    "嘉怡紫依晓春夏秋冬云山水金木火土东南西北中正光荣德仁义礼智信忠孝安康福寿喜乐美好新立永长"
    "毅坤振宏伦瑞祥庆昌盛耀辰星月阳晴雅琪瑶婉淑贞蓉菲薇蕾妮媛娇莹琦璐曼茜露馨蕊爽琴瑾珊钰玥"
    "松柏竹兵彬鸿鹤鹏晖昊昱晟睿哲皓泽霖沛洁淼源清河湖江川岩峻崇岳坚钢铁铭锋锐锦绣彩虹霓"
    "小大少老子之生士学民利达发财富贵祖宗兴旺红艳青蓝紫朝晖辉煌耀祖宝贝珍珠翠琼瑜璋琛"
)


def _get(client, path, **params):
    return client.request("GET", f"{path}?{urlencode(params)}", htmx=True)


@pytest.fixture(scope="module")
def oracle(servers):
    return servers.get("oracle")


@pytest.fixture(scope="module")
def lin(oracle):
    """林明强, the owner's customer: phone 159XXXX7130 with XXXX drawn past the limit."""
    owner = oracle.login("owner")
    middle = random.randrange(2000, 9000)
    phone = f"159{middle:04d}7130"
    customer_id = register(owner, name="林明强", phone=phone)
    return {"id": customer_id, "phone": phone, "middle": middle}


def _run_loop(client, path, field, lin, found):
    """Ask for each candidate in turn; return (status codes before the first 429, the first 429)."""
    answered = []
    for middle in range(10_000):
        response = _get(client, path, **{field: f"159{middle:04d}7130"})
        assert not found(response), f"the number was found after {len(answered) + 1} lookups"
        if response.status == 429:
            return answered, response
        answered.append(response.status)
    raise AssertionError("10,000 lookups and no limit")


def test_the_phone_loop_over_the_list_stops_at_the_limit(oracle, lin):
    snoop = oracle.login("snoop")
    link = f"/customers/{lin['id']}"
    answered, refused = _run_loop(snoop, "/customers/", "q", lin, lambda r: link in r.text)
    assert answered == [200] * 30, "the default limit is 30 complete numbers a minute"
    assert len(answered) < lin["middle"]
    assert 'data-testid="lookup-limit"' in refused.text
    # The real number itself, asked for now, is refused too: nothing is found.
    direct = _get(snoop, "/customers/", q=lin["phone"])
    assert direct.status == 429 and link not in direct.text and "林明强" not in direct.text
    # Typing and names still work for the snoop.
    assert _get(snoop, "/customers/", q="159").status == 200

    home = oracle.login("watch").get("/")
    alerts = home.text.split('data-testid="alerts"', 1)[1]
    assert 'data-testid="alert-alert_lookup_limit"' in alerts
    assert "snoop" in alerts.split("</section>", 1)[0]
    logs = oracle.login("watch").get("/logs/?tab=alerts")
    assert logs.status == 200 and "snoop" in logs.text and 'data-testid="log-row"' in logs.text


def test_the_phone_loop_over_the_desk_check_stops_at_the_limit(oracle, lin):
    desk = oracle.login("snoopdesk")
    answered, refused = _run_loop(
        desk, "/reception/check", "phone", lin, lambda r: 'data-testid="dup-warning"' in r.text
    )
    assert answered == [200] * 30
    assert 'data-testid="lookup-limit"' in refused.text and "林" not in refused.text
    assert _get(desk, "/reception/check", phone=lin["phone"]).status == 429
    home = oracle.login("watch").get("/").text
    assert "snoopdesk" in home.split('data-testid="alerts"', 1)[1].split("</section>", 1)[0]


@pytest.mark.parametrize("username", ["snoop", "mate"])  # another team's rep; a colleague of the same team
def test_single_characters_find_nothing_behind_a_masked_name(oracle, lin, username):
    client = oracle.login(username)
    link = re.compile(rf'href="/customers/{lin["id"]}"')
    characters = sorted(set(COMMON + "林明强"))
    assert len(characters) > 300
    for character in characters:
        response = _get(client, "/customers/", q=character)
        assert response.status == 200, f"{character}: {response.status}"
        assert not link.search(response.text), f"searching {character!r} found the masked 林**"
    # The control: the owner finds the customer by a character of the name.
    assert link.search(_get(oracle.login("owner"), "/customers/", q="明").text)
