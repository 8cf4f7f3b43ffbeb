"""The reports fold remembers `status_after` and `review_open_after` per event shape (`_lifecycle_key`): for
every kind of event a city logs, and every decision, the remembered answer is the one the functions give."""

from itertools import islice

from bench import synthetic
from contracts.lifecycle import review_open_after, status_after
from services.reports import projections


def test_remembered_lifecycle_answers_are_the_functions_answers():
    events = [env.event() for _, env in islice(synthetic.city(4000, orgs=4, seed=5), 4000)]
    events += [env.event() for _, env in islice(synthetic.imported(5, "org"), 5)]
    assert len({type(ev) for ev in events}) >= 20
    for _ in range(2):  # the first time computed, the second remembered
        for ev in events:
            after, status = projections._lifecycle(ev)
            assert status == status_after(ev)
            for open_ in (True, False):
                assert (open_ if after is None else after) == review_open_after(ev, open_)
