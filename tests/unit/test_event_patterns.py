"""The local bus matches rules as EventBridge does: the examples of AWS's documentation ("Amazon EventBridge event
patterns" and "Comparison operators for use in event patterns"), with the events they are given with."""

from __future__ import annotations

import pytest

from devstack.event_patterns import PatternError, matches

# The EC2 state-change event the documentation's examples are written against.
EC2_EVENT = {
    "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2", "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated", "c-count": 5, "d-count": 7,
               "x-limit": 301.8, "source-ip": "10.0.0.123", "FileName": "image.png", "eventSource": "s3.amazonaws.com"},
}


def detail(**fields):
    return {**EC2_EVENT, "detail": {**EC2_EVENT["detail"], **fields}}


@pytest.mark.parametrize(("pattern", "event", "expected"), [
    # exact values, and a list is OR
    ({"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]}, EC2_EVENT, True),
    ({"source": ["aws.ec2"], "detail": {"state": ["running", "pending"]}}, EC2_EVENT, False),
    ({"detail": {"state": ["running", "terminated"]}}, EC2_EVENT, True),
    # arrays in the event: any element
    ({"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0", "other"]}, EC2_EVENT, True),
    # prefix
    ({"time": [{"prefix": "2017-12-22"}]}, EC2_EVENT, True),
    ({"time": [{"prefix": "2017-10-02"}]}, EC2_EVENT, False),
    ({"detail": {"state": [{"prefix": {"equals-ignore-case": "TERM"}}]}}, EC2_EVENT, True),
    # suffix
    ({"detail": {"FileName": [{"suffix": ".png"}]}}, EC2_EVENT, True),
    ({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".PNG"}}]}}, EC2_EVENT, True),
    ({"detail": {"FileName": [{"suffix": ".txt"}]}}, EC2_EVENT, False),
    # anything-but
    ({"detail": {"state": [{"anything-but": "initializing"}]}}, EC2_EVENT, True),
    ({"detail": {"state": [{"anything-but": "terminated"}]}}, EC2_EVENT, False),
    ({"detail": {"x-limit": [{"anything-but": 123}]}}, EC2_EVENT, True),
    ({"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}, EC2_EVENT, True),
    ({"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}, EC2_EVENT, False),
    ({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, EC2_EVENT, True),
    ({"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}, EC2_EVENT, False),
    ({"detail": {"FileName": [{"anything-but": {"suffix": ".txt"}}]}}, EC2_EVENT, True),
    ({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "TERMINATED"]}}]}}, EC2_EVENT, False),
    ({"detail": {"FileName": [{"anything-but": {"wildcard": "*/dir/*"}}]}}, EC2_EVENT, True),
    ({"detail": {"missing": [{"anything-but": "x"}]}}, EC2_EVENT, False),  # a missing field matches nothing
    # numeric
    ({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}],
                 "x-limit": [{"numeric": ["=", 3.018e2]}]}}, EC2_EVENT, True),
    ({"detail": {"c-count": [{"numeric": [">", 5]}]}}, EC2_EVENT, False),
    ({"detail": {"state": [{"numeric": [">", 0]}]}}, EC2_EVENT, False),  # a string is not a number
    # exists
    ({"detail": {"state": [{"exists": True}]}}, EC2_EVENT, True),
    ({"detail": {"state": [{"exists": False}]}}, EC2_EVENT, False),
    ({"detail": {"c-count": [{"exists": False}]}}, detail(**{"c-count": None}) | {"detail": {}}, True),
    ({"detail": {"nested": [{"exists": True}]}}, detail(nested={"a": 1}), False),  # leaf nodes only
    # equals-ignore-case
    ({"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]}, EC2_EVENT, True),
    # wildcard
    ({"detail": {"eventSource": [{"wildcard": "*.amazonaws.com"}]}}, EC2_EVENT, True),
    ({"detail": {"eventSource": [{"wildcard": "*.example.com"}]}}, EC2_EVENT, False),
    ({"resources": [{"wildcard": "arn:aws:ec2:*:123456789012:instance/*"}]}, EC2_EVENT, True),
    # cidr
    ({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, EC2_EVENT, True),
    ({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, EC2_EVENT, False),
    # $or
    ({"detail": {"$or": [{"c-count": [{"numeric": [">", 10]}]}, {"d-count": [{"numeric": ["<", 10]}]}]}},
     EC2_EVENT, True),
    ({"detail": {"$or": [{"c-count": [{"numeric": [">", 10]}]}, {"state": ["running"]}]}}, EC2_EVENT, False),
    # null and empty strings
    ({"detail": {"responseElements": [None]}}, detail(responseElements=None), True),
    ({"detail": {"name": [""]}}, detail(name=""), True),
    ({"detail": {"name": [""]}}, detail(name="x"), False),
])
def test_documented_examples(pattern, event, expected):
    assert matches(pattern, event) is expected


def test_the_templates_own_rules_match_the_events_they_are_for():
    paid = {"source": "payments", "detail-type": "OrderPaid", "detail": {"order": {"orderId": "ord_1", "userId": "a"}}}
    entitlements = {"source": "payments", "detail-type": "EntitlementsChanged", "detail": {"userId": "a"}}
    notify = {"source": ["payments"], "detail": {"order": {"userId": [{"exists": True}]}}}
    assert matches({"source": ["payments"], "detail-type": ["OrderPaid"]}, paid)
    assert matches(notify, paid) and not matches(notify, entitlements)
    assert not matches({"source": ["payments"], "detail-type": ["OrderPaid"]}, {**paid, "source": "other"})


@pytest.mark.parametrize("pattern", [{"detail": "x"}, {"a": [{"numeric": [">"]}]}, {"a": [{"nope": 1}]},
                                     {"a": [{"cidr": "not-a-net"}]}, {"$or": [{"a": ["x"]}]}])
def test_a_pattern_eventbridge_refuses_is_an_error(pattern):
    with pytest.raises(PatternError):
        matches(pattern, EC2_EVENT)
