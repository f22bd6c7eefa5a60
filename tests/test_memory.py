"""The serving process's memory settings (marketplace.memory), applied as `marketplace serve` applies them."""

import gc

from marketplace import memory


def test_the_collector_setting_changes_only_the_youngest_generations_threshold():
    before = gc.get_threshold()
    try:
        memory.tune_collector()
        assert gc.get_threshold() == (memory.YOUNG_COLLECTION, *before[1:])
        assert before[0] < memory.YOUNG_COLLECTION  # fewer collections than Python's default, not more
    finally:
        gc.set_threshold(*before)
    assert gc.get_threshold() == before
