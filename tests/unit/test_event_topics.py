"""Every stored event names its class by a topic: a topic that moved would leave
every existing log unreadable, so the topics are pinned here."""

from eventsourcing.utils import get_topic, resolve_topic

from domain.job import Job

STORED_JOB_TOPICS = [
    "domain.job:Job.Scheduled",
    "domain.job:Job.Started",
    "domain.job:Job.TakenOver",
    "domain.job:Job.LeaseRenewed",
    "domain.job:Job.BatchDeleted",
    "domain.job:Job.LateBatchDeleted",
    "domain.job:Job.LeaseReleased",
    "domain.job:Job.Cancelled",
    "domain.job:Job.Completed",
    "domain.job:Job.Failed",
    "domain.job:Job.PersonalDataForgotten",
    "domain.job:Job.RemainsSearched",
    "domain.job:Job.DeadlineExtended",
]


def test_the_job_events_keep_the_topics_existing_logs_hold() -> None:
    written = [get_topic(getattr(Job, topic.rsplit(".", 1)[-1])) for topic in STORED_JOB_TOPICS]
    assert written == STORED_JOB_TOPICS


def test_each_stored_topic_resolves_to_the_class_the_job_triggers() -> None:
    for topic in STORED_JOB_TOPICS:
        assert resolve_topic(topic) is getattr(Job, topic.rsplit(".", 1)[-1])


def test_a_job_triggers_only_events_whose_topics_are_pinned() -> None:
    events = [
        name
        for name, value in vars(Job).items()
        if isinstance(value, type)
        and issubclass(value, Job.Event)
        # eventsourcing's own bases, redefined on every aggregate, never triggered by a Job
        and name not in ("Event", "Created")
    ]
    assert sorted(f"domain.job:Job.{name}" for name in events) == sorted(STORED_JOB_TOPICS)
