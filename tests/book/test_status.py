"""What the status page shows: the environment table and the recorded build times."""

from interplib.book import status


def test_environment_lists_versions_and_device():
    env = status.environment()
    assert {"python", "torch", "transformer-lens", "device"} <= set(env.index)


def test_build_timings_explains_when_nothing_was_measured(tmp_path):
    assert (
        "make measure-build" in status.build_timings(tmp_path / "none.json")["note"][0]
    )
