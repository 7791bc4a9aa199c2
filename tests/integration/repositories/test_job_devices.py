"""JobDeviceRepository against Azurite: planning, claiming and exactly-once counting."""
import threading
from datetime import timedelta

import pytest

from shared.domain.batching import DeviceBatch
from shared.domain.devices import DeviceErrorCode, DeviceOutcome, DeviceStatus
from shared.domain.errors import InvalidField, JobNotFound
from shared.domain.progress import Progress
from shared.domain.rollout import Rollout, cut_batches
from shared.repositories import JobDeviceRepository
from tests.integration.repositories.conftest import NOW

LATER = NOW + timedelta(minutes=1)
ODD_IDS = ["a#1", "a?2", "a%3", "a'4", "a+5", "a$6", "a(7)", "a:8=@!*,_.-"]


def ids(count: int, prefix: str = "dev") -> list[str]:
    return [f"{prefix}-{index:05}" for index in range(count)]


def planned(job_devices, job_id, device_ids) -> list[DeviceBatch]:
    job_devices.add_pending(job_id, device_ids, NOW)
    return list(job_devices.pending_batches(job_id))


def outcomes_for(batch_rows, fail_every: int = 3) -> list[DeviceOutcome]:
    return [DeviceOutcome.failure(row.device_id, DeviceErrorCode.DEVICE_NOT_ONLINE, "offline")
            if index % fail_every == 0 else DeviceOutcome.success(row.device_id)
            for index, row in enumerate(batch_rows)]


def counted_from_rows(job_devices, job_id) -> Progress:
    progress = Progress()
    for device in job_devices.iter_devices(job_id):
        progress = progress.with_planned(1).moved(DeviceStatus.PENDING, device.status)
    return progress


class TestPlanning:
    def test_rows_and_total_are_written_in_transactions(self, job_devices, job_id, stored_rows):
        assert job_devices.add_pending(job_id, ids(250), NOW) == 250
        rows = stored_rows(job_id)
        assert len(rows) == 251 and rows["~progress"]["total"] == 250 and rows["~progress"]["pending"] == 250
        assert {row["status"] for key, row in rows.items() if key != "~progress"} == {"pending"}

    def test_a_replayed_page_adds_nothing(self, job_devices, job_id, stored_rows):
        job_devices.add_pending(job_id, ids(150), NOW)
        assert job_devices.add_pending(job_id, ids(150), LATER) == 0
        assert job_devices.add_pending(job_id, ids(200), LATER) == 50  # half replayed, half new
        assert job_devices.get_progress(job_id) == Progress(total=200, pending=200)
        assert len(stored_rows(job_id)) == 201

    def test_concurrent_planners_of_one_job_count_each_device_once(self, job_devices, job_id):
        added = run_together(8, lambda: job_devices.add_pending(job_id, ids(196), NOW))
        assert sum(added) == 196
        assert job_devices.get_progress(job_id) == Progress(total=196, pending=196)

    def test_batches_are_consecutive_ranges_of_at_most_98(self, job_devices, job_id):
        batches = planned(job_devices, job_id, reversed(ids(200)))
        assert [(b.first_device_id, b.last_device_id, b.size) for b in batches] == [
            ("dev-00000", "dev-00097", 98), ("dev-00098", "dev-00195", 98), ("dev-00196", "dev-00199", 4)]
        assert [row.device_id for row in job_devices.read_batch(job_id, batches[1])] == ids(200)[98:196]

    def test_device_ids_with_key_forbidden_characters_round_trip_in_order(self, job_devices, job_id):
        batches = planned(job_devices, job_id, ODD_IDS)
        assert len(batches) == 1 and batches[0].size == len(ODD_IDS)
        assert [row.device_id for row in job_devices.read_batch(job_id, batches[0])] == sorted(ODD_IDS)
        claimed = job_devices.claim(job_id, batches[0], NOW).claimed
        job_devices.record_outcomes(job_id, outcomes_for(claimed), LATER)
        assert sorted(device.device_id for device in job_devices.iter_devices(job_id)) == sorted(ODD_IDS)
        assert job_devices.get_progress(job_id).is_done

    def test_resume_batches_only_what_is_still_pending(self, job_devices, job_id):
        first = planned(job_devices, job_id, ids(196))[0]
        job_devices.claim(job_id, first, NOW)
        remaining = list(job_devices.pending_batches(job_id))
        assert [(b.first_device_id, b.size) for b in remaining] == [("dev-00098", 98)]

    def test_batches_can_start_after_a_given_device(self, job_devices, job_id):
        job_devices.add_pending(job_id, ids(250) + ["dev#1", "dev%2", "dev?3", "dev'4"], NOW)
        whole = list(job_devices.pending_batches(job_id))
        rest = list(job_devices.pending_batches(job_id, after=whole[0].last_device_id))
        assert rest == whole[1:]
        odd = list(job_devices.pending_batches(job_id, after="dev%2"))  # row keys keep the ids' order
        # "dev#1" < "dev%2" < "dev'4" < "dev-00000" … "dev-00249" < "dev?3"
        assert [(b.first_device_id, b.size) for b in odd] == [("dev'4", 98), ("dev-00097", 98), ("dev-00195", 56)]
        assert odd[-1].last_device_id == "dev?3"


class TestClaim:
    def test_claim_moves_pending_to_running_with_the_counters(self, job_devices, job_id):
        batch = planned(job_devices, job_id, ids(98))[0]
        result = job_devices.claim(job_id, batch, NOW)
        assert len(result.claimed) == 98 and result.unclaimed == []
        assert {row.status for row in job_devices.read_batch(job_id, batch)} == {DeviceStatus.RUNNING}
        assert job_devices.get_progress(job_id) == Progress(total=98, running=98)

    def test_a_claim_names_its_claimer_until_the_row_moves_on(self, job_devices, job_id):
        batch = planned(job_devices, job_id, ids(3))[0]
        claimed = job_devices.claim(job_id, batch, NOW, "message-1").claimed
        assert {row.claimed_by for row in claimed} == {"message-1"}
        assert {row.claimed_by for row in job_devices.read_batch(job_id, batch)} == {"message-1"}
        job_devices.record_outcomes(job_id, [DeviceOutcome.success(ids(1)[0])], LATER)
        assert [row.claimed_by for row in job_devices.read_batch(job_id, batch)] == [None, "message-1", "message-1"]

    def test_a_redelivered_dispatch_claims_nothing(self, job_devices, job_id):
        batch = planned(job_devices, job_id, ids(10))[0]
        job_devices.claim(job_id, batch, NOW)
        again = job_devices.claim(job_id, batch, LATER)
        assert again.claimed == [] and len(again.unclaimed) == 10
        assert job_devices.get_progress(job_id) == Progress(total=10, running=10)

    def test_concurrent_claims_give_each_device_to_one_sender(self, job_devices, job_id):
        batch = planned(job_devices, job_id, ids(98))[0]
        results = run_together(6, lambda: job_devices.claim(job_id, batch, NOW))
        claimed = [row.device_id for result in results for row in result.claimed]
        assert sorted(claimed) == ids(98)
        assert job_devices.get_progress(job_id) == Progress(total=98, running=98)

    def test_claiming_a_job_that_was_never_planned_is_not_found(self, job_devices, job_id):
        with pytest.raises(JobNotFound):
            job_devices.claim(job_id, DeviceBatch("a", "b", 2), NOW)

    def test_release_gives_running_rows_back(self, job_devices, job_id):
        batch = planned(job_devices, job_id, ids(5))[0]
        job_devices.claim(job_id, batch, NOW)
        released = job_devices.release(job_id, ids(5)[2:], LATER)
        assert [row.device_id for row in released] == ids(5)[2:]
        assert job_devices.get_progress(job_id) == Progress(total=5, pending=3, running=2)
        assert job_devices.release(job_id, ids(5)[2:], LATER) == []


class TestIncarnations:
    """Rows belong to the incarnation of the job that planned them; another one's writers see no job."""

    def test_changes_for_another_incarnation_are_not_found_and_change_nothing(self, job_devices, job_id):
        job_devices.add_pending(job_id, ids(3), NOW, incarnation="first")
        batch = DeviceBatch(ids(3)[0], ids(3)[-1], 3)
        for stale_change in (lambda: job_devices.claim(job_id, batch, NOW, incarnation="second"),
                             lambda: job_devices.release(job_id, ids(3), NOW, incarnation="second"),
                             lambda: job_devices.record_outcomes(job_id, [DeviceOutcome.success(ids(1)[0])], NOW,
                                                                 incarnation="second"),
                             lambda: job_devices.add_pending(job_id, ids(5), NOW, incarnation="second")):
            with pytest.raises(JobNotFound):
                stale_change()
        assert job_devices.get_progress(job_id) == Progress(total=3, pending=3)
        assert job_devices.claim(job_id, batch, NOW, incarnation="first").claimed != []

    def test_planning_a_new_incarnation_clears_the_rows_an_earlier_one_left(self, job_devices, job_id):
        job_devices.add_pending(job_id, ids(3), NOW, incarnation="first")
        assert job_devices.clear_other_incarnation(job_id, "first") == 0  # its own rows stay
        assert job_devices.incarnation_of(job_id) == "first"
        assert job_devices.clear_other_incarnation(job_id, "second") == 4  # three devices and the progress row
        assert job_devices.incarnation_of(job_id) is None
        assert job_devices.add_pending(job_id, ids(2), NOW, incarnation="second") == 2
        assert job_devices.get_progress(job_id) == Progress(total=2, pending=2)
        assert job_devices.incarnation_of(job_id) == "second"


class TestAnyNumberOfRows:
    """Callers hand over any number of devices; the repository cuts them into transactions."""

    def test_a_range_holding_more_pending_rows_than_a_transaction_is_claimed_whole(self, job_devices, job_id):
        job_devices.add_pending(job_id, ids(250), NOW)
        whole_range = DeviceBatch(ids(250)[0], ids(250)[-1], 250)  # as after a stop released 250 rows
        result = job_devices.claim(job_id, whole_range, NOW, "message-1")
        assert sorted(row.device_id for row in result.claimed) == ids(250) and result.unclaimed == []
        assert job_devices.get_progress(job_id) == Progress(total=250, running=250)

    def test_release_and_record_take_more_rows_than_a_transaction(self, job_devices, job_id):
        job_devices.add_pending(job_id, ids(250), NOW)
        job_devices.claim(job_id, DeviceBatch(ids(250)[0], ids(250)[-1], 250), NOW)
        released = job_devices.release(job_id, ids(250)[:230], LATER)
        assert sorted(row.device_id for row in released) == ids(250)[:230]
        assert job_devices.get_progress(job_id) == Progress(total=250, pending=230, running=20)

        job_devices.claim(job_id, DeviceBatch(ids(250)[0], ids(250)[-1], 250), NOW)
        outcomes = [DeviceOutcome.success(device_id) for device_id in ids(250)]
        result = job_devices.record_outcomes(job_id, outcomes, LATER)
        assert len(result.recorded) == 250 and result.progress == Progress(total=250, completed=250)
        again = job_devices.record_outcomes(job_id, outcomes, LATER)
        assert again.recorded == [] and again.progress == Progress(total=250, completed=250)


class TestExactlyOnceCounting:
    def test_outcomes_and_counters_are_written_together(self, job_devices, job_id, stored_rows):
        batch = planned(job_devices, job_id, ids(98))[0]
        claimed = job_devices.claim(job_id, batch, NOW).claimed
        result = job_devices.record_outcomes(job_id, outcomes_for(claimed), LATER)
        assert len(result.recorded) == 98 and result.progress == Progress(total=98, completed=65, failed=33)
        assert result.progress.is_done and not result.progress.succeeded
        row = stored_rows(job_id)["dev-00000"]
        assert (row["status"], row["errorCode"], row["errorMessage"]) == ("failed", "DeviceNotOnline", "offline")
        assert job_devices.get_progress(job_id) == counted_from_rows(job_devices, job_id)

    def test_a_replayed_outcomes_message_changes_no_count(self, job_devices, job_id, stored_rows):
        batch = planned(job_devices, job_id, ids(50))[0]
        outcomes = outcomes_for(job_devices.claim(job_id, batch, NOW).claimed)
        job_devices.record_outcomes(job_id, outcomes, LATER)
        before = stored_rows(job_id)
        replay = job_devices.record_outcomes(job_id, outcomes, LATER + timedelta(minutes=1))
        assert replay.recorded == [] and replay.progress == Progress(total=50, completed=33, failed=17)
        assert stored_rows(job_id) == before  # not even a timestamp moved

    def test_a_conflicting_outcome_never_overwrites_a_final_row(self, job_devices, job_id):
        batch = planned(job_devices, job_id, ids(4))[0]
        job_devices.claim(job_id, batch, NOW)
        job_devices.record_outcomes(job_id, [DeviceOutcome.success(device) for device in ids(4)], LATER)
        late = [DeviceOutcome.failure(device, DeviceErrorCode.TIMEOUT, "late") for device in ids(4)]
        assert job_devices.record_outcomes(job_id, late, LATER).recorded == []
        assert {row.status for row in job_devices.iter_devices(job_id)} == {DeviceStatus.COMPLETED}

    def test_a_concurrent_double_apply_counts_once(self, job_devices, job_id):
        batch = planned(job_devices, job_id, ids(98))[0]
        outcomes = outcomes_for(job_devices.claim(job_id, batch, NOW).claimed)
        results = run_together(8, lambda: job_devices.record_outcomes(job_id, outcomes, LATER))
        assert sorted(len(result.recorded) for result in results) == [0] * 7 + [98]
        assert job_devices.get_progress(job_id) == Progress(total=98, completed=65, failed=33)

    def test_a_race_lost_between_read_and_write_is_recomputed(self, table_job_devices, table_service, table_name,
                                                              job_id):
        """Table Storage only: the interleaving is injected between the read and the transaction."""
        job_devices = table_job_devices
        batch = planned(job_devices, job_id, ids(10))[0]
        outcomes = outcomes_for(job_devices.claim(job_id, batch, NOW).claimed)
        rival = JobDeviceRepository(table_service, table_name)
        rival_outcomes = outcomes[:4]  # the rival records part of the same batch first
        reads = []
        read_devices = job_devices._read_devices

        def read_then_let_the_rival_write(job, wanted):
            rows = read_devices(job, wanted)
            if not reads:
                rival.record_outcomes(job_id, rival_outcomes, NOW)
            reads.append(len(rows))
            return rows

        job_devices._read_devices = read_then_let_the_rival_write  # interleave deterministically
        result = job_devices.record_outcomes(job_id, outcomes, LATER)
        assert reads == [10, 10]  # the first transaction failed on the stale ETags and was recomputed
        assert sorted(row.device_id for row in result.recorded) == ids(10)[4:]
        assert job_devices.get_progress(job_id) == Progress(total=10, completed=6, failed=4)

    def test_concurrent_batches_of_one_job_all_count(self, job_devices, job_id):
        batches = planned(job_devices, job_id, ids(490))
        claims = [job_devices.claim(job_id, batch, NOW).claimed for batch in batches]
        workers = [lambda claimed=claimed: job_devices.record_outcomes(job_id, outcomes_for(claimed), LATER)
                   for claimed in claims]
        results = run_each_together(workers + workers)  # every message delivered twice, all at once
        assert sum(len(result.recorded) for result in results) == 490
        assert job_devices.get_progress(job_id) == counted_from_rows(job_devices, job_id)
        assert job_devices.get_progress(job_id).is_done

    def test_an_outcome_after_a_release_still_counts_once(self, job_devices, job_id):
        batch = planned(job_devices, job_id, ids(2))[0]
        job_devices.claim(job_id, batch, NOW)
        job_devices.release(job_id, ids(2), NOW)
        result = job_devices.record_outcomes(job_id, [DeviceOutcome.success(d) for d in ids(2)], LATER)
        assert result.progress == Progress(total=2, completed=2)
        assert list(job_devices.pending_batches(job_id)) == []


class TestReading:
    def test_pages_with_a_continuation_token_and_a_status_filter(self, job_devices, job_id):
        batch = planned(job_devices, job_id, ids(25))[0]
        job_devices.claim(job_id, batch, NOW)
        job_devices.record_outcomes(job_id, outcomes_for(job_devices.read_batch(job_id, batch), 5), LATER)
        seen, token = [], None
        while True:
            page = job_devices.list_devices(job_id, DeviceStatus.FAILED, page_size=2, continuation=token)
            seen += [device.device_id for device in page.devices]
            token = page.continuation
            if token is None:
                break
        assert seen == ids(25)[::5]
        assert len(job_devices.list_devices(job_id, page_size=100).devices) == 25

    def test_a_forged_token_is_refused(self, job_devices, job_id):
        for forged in ("not-base64!", "eyJ4IjogMX0"):  # the second decodes to {"x": 1}
            with pytest.raises(InvalidField):
                job_devices.list_devices(job_id, continuation=forged)

    def test_streaming_skips_the_progress_row_and_unknown_jobs_have_no_progress(self, job_devices, job_id):
        job_devices.add_pending(job_id, ids(1200), NOW)
        streamed = job_devices.iter_devices(job_id)
        assert next(streamed).device_id == "dev-00000"
        assert sum(1 for _ in streamed) == 1199
        assert job_devices.get_progress("never-planned") == Progress()


class TestRolloutBatches:
    def test_batches_are_cut_from_the_rows_in_id_order_and_stored_apart_from_them(self, job_devices, job_id):
        job_devices.add_pending(job_id, ids(250), NOW)
        job_devices.record_outcomes(job_id, [DeviceOutcome.failure("dev-00120", DeviceErrorCode.EDGE_NOT_SUPPORTED,
                                                                   "edge")], NOW)
        batches = list(cut_batches(job_devices.device_statuses(job_id), 100))
        job_devices.save_rollout_batches(job_id, batches)
        job_devices.save_rollout_batches(job_id, batches)  # a replayed cut
        stored = job_devices.rollout_batches(job_id)
        assert [(b.first_device_id, b.last_device_id, b.total, b.pending, b.failed) for b in stored] == [
            ("dev-00000", "dev-00099", 100, 100, 0), ("dev-00100", "dev-00199", 100, 99, 1),
            ("dev-00200", "dev-00249", 50, 50, 0)]
        assert sum(1 for _ in job_devices.iter_devices(job_id)) == 250  # batch rows are not device rows
        assert job_devices.get_progress(job_id).as_dict() == {"total": 250, "pending": 249, "running": 0,
                                                              "completed": 0, "failed": 1}
        assert job_devices.rollout_batches("other-job") == []

    def test_only_the_active_batch_is_batched_for_sending(self, job_devices, job_id):
        job_devices.add_pending(job_id, ids(250), NOW)
        sent = list(job_devices.pending_batches(job_id, through="dev-00099"))
        assert sum(batch.size for batch in sent) == 100 and sent[-1].last_device_id == "dev-00099"

    def test_the_active_batch_moves_once_and_survives_the_counters_moving(self, job_devices, job_id):
        job_devices.add_pending(job_id, ids(20), NOW)
        batches = list(cut_batches(job_devices.device_statuses(job_id), 10))
        first = Rollout.starting(batches)
        assert job_devices.set_rollout(job_id, first, None, "")
        assert not job_devices.set_rollout(job_id, first, None, "")  # a replay: already set
        (batch,) = job_devices.pending_batches(job_id, through=first.last_device_id)
        job_devices.claim(job_id, batch, NOW)
        job_devices.record_outcomes(job_id, [DeviceOutcome.success(f"dev-{n:05}") for n in range(10)], LATER)
        progress = job_devices.get_progress(job_id)
        assert progress.rollout == first and first.active_done(progress)
        second = first.following(first.active_progress(progress), batches[1])
        assert job_devices.set_rollout(job_id, second, 0, "")
        assert not job_devices.set_rollout(job_id, second, 0, "")  # a second delivery moved nothing
        assert job_devices.get_progress(job_id).rollout == second
        assert not second.active_done(job_devices.get_progress(job_id))
        with pytest.raises(JobNotFound):
            job_devices.set_rollout(job_id, second, 1, "another-incarnation")

    def test_delete_all_takes_the_batch_rows_too(self, job_devices, job_id, stored_rows):
        job_devices.add_pending(job_id, ids(30), NOW)
        job_devices.save_rollout_batches(job_id, cut_batches(job_devices.device_statuses(job_id), 10))
        assert job_devices.delete_all(job_id) == 34
        assert stored_rows(job_id) == {} and job_devices.rollout_batches(job_id) == []


class TestDeleteAll:
    def test_every_row_goes_and_a_rerun_is_harmless(self, job_devices, job_id, stored_rows):
        job_devices.add_pending(job_id, ids(230), NOW)
        job_devices.add_pending("other-job", ids(3), NOW)
        assert job_devices.delete_all(job_id) == 231
        assert stored_rows(job_id) == {}
        assert job_devices.delete_all(job_id) == 0
        assert len(stored_rows("other-job")) == 4


def run_together(count: int, work):
    return run_each_together([work] * count)


def run_each_together(works):
    start, results, errors = threading.Barrier(len(works)), [None] * len(works), []

    def run(index):
        start.wait()
        try:
            results[index] = works[index]()
        except Exception as error:  # surfaced below so the test shows it
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results
