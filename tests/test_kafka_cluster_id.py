"""The test broker's cluster id: one in 64 random ids starts with ``-``, which Kafka's storage tool reads as
an option, so one broker start in 64 failed before the harness redrew such ids."""

from __future__ import annotations

import base64

from tests.kafka_harness import _cluster_id


def test_cluster_ids_never_start_with_a_dash_and_keep_kafkas_form() -> None:
    ids = [_cluster_id() for _ in range(4000)]  # ~63 of them would start with "-" without the redraw
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
