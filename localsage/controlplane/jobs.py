"""SageMaker's training and processing job operations, answered from the runner's job records.

A job a pipeline step ran is recorded by its step type; CreateTrainingJob and CreateProcessingJob from any
client (`ModelTrainer.train()`, `ScriptProcessor.run()`, boto3) record the job and start a worker that runs it
through the same step type and backend, returning at once as SageMaker does.
"""

from __future__ import annotations

from localsage.controlplane.plane import Plane
from localsage.controlplane.protocol import check_request, invalid, not_found, page
from localsage.runner.jobs import JobRecord, JobStatus
from localsage.runner.steps.registry import job_step_types

# Per kind (see job_step_types): its Describe* shape's required members with a value while the job has not set them.
DESCRIBE_DEFAULTS = {
    "TrainingJob": {
        "ModelArtifacts": {"S3ModelArtifacts": ""},
        "SecondaryStatus": "Starting",
        "ResourceConfig": {"InstanceType": "local", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    },
    "ProcessingJob": {
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "local", "VolumeSizeInGB": 1}}
    },
    "TransformJob": {"TransformResources": {"InstanceType": "local", "InstanceCount": 1}},
}
# Per kind: the Describe* members of its start and end times.
TIMES = {
    "TrainingJob": ("TrainingStartTime", "TrainingEndTime"),
    "ProcessingJob": ("ProcessingStartTime", "ProcessingEndTime"),
    "TransformJob": ("TransformStartTime", "TransformEndTime"),
}
SECONDARY = {
    JobStatus.IN_PROGRESS: "Training",
    JobStatus.COMPLETED: "Completed",
    JobStatus.FAILED: "Failed",
    JobStatus.STOPPING: "Stopping",
    JobStatus.STOPPED: "Stopped",
}


def create(kind: str):
    def operation(plane: Plane, request: dict) -> dict:
        name = request[f"{kind}Name"]
        check_request(f"Create{kind}", request)
        if plane.jobs.find(kind, name):
            raise invalid(f"{kind} {name} already exists: job names are unique")
        arn = plane.arn(f"{job_step_types()[kind].arn_resource}/{name.lower()}")
        job = JobRecord(kind=kind, name=name, arn=arn, request=request)
        plane.jobs.save(job)
        job.runner_pid, job.runner_started = plane.launch("job", kind, name)
        plane.jobs.save(job)
        return {f"{kind}Arn": job.arn}

    return operation


def describe(kind: str):
    def operation(plane: Plane, request: dict) -> dict:
        return described(_job(plane, kind, request[f"{kind}Name"]))

    return operation


def list_jobs(kind: str):
    def operation(plane: Plane, request: dict) -> dict:
        jobs = plane.jobs.all(kind)
        if request.get("NameContains"):
            jobs = [job for job in jobs if request["NameContains"].lower() in job.name.lower()]
        if request.get("StatusEquals"):
            jobs = [job for job in jobs if job.status == request["StatusEquals"]]
        if request.get("CreationTimeAfter") is not None:
            jobs = [job for job in jobs if job.created > float(request["CreationTimeAfter"])]
        if request.get("CreationTimeBefore") is not None:
            jobs = [job for job in jobs if job.created < float(request["CreationTimeBefore"])]
        if request.get("SortBy") == "Name":
            jobs.sort(key=lambda job: job.name)
        if request.get("SortOrder") == "Ascending":
            jobs.reverse()
        summaries = []
        for job in jobs:
            summary = {
                f"{kind}Name": job.name,
                f"{kind}Arn": job.arn,
                "CreationTime": job.created,
                "LastModifiedTime": job.last_modified,
                f"{kind}Status": str(job.status),
            }
            if job.ended is not None:
                summary[TIMES[kind][1]] = job.ended
            if job.failure:
                summary["FailureReason"] = job.failure
            summaries.append(summary)
        return page(summaries, request, f"{kind}Summaries")

    return operation


def stop(kind: str):
    def operation(plane: Plane, request: dict) -> dict:
        job = _job(plane, kind, request[f"{kind}Name"])
        if job.status != JobStatus.IN_PROGRESS:
            raise invalid(f"{kind} {job.name} is {job.status}: only a job in progress stops")
        plane.signal_runner(job.runner_pid, job.runner_started)
        return {}

    return operation


def described(job: JobRecord) -> dict:
    """The job as Describe<Kind> answers: its request, what it produced, its status and times."""
    kind = job.kind
    document = {
        **DESCRIBE_DEFAULTS[kind],
        **job.properties,
        # The request in the API's own shapes (the properties hold lists as maps, for pipeline references).
        **{key: value for key, value in job.request.items() if key != "Tags"},
        f"{kind}Name": job.name,
        f"{kind}Arn": job.arn,
        f"{kind}Status": str(job.status),
        "CreationTime": job.created,
        "LastModifiedTime": job.last_modified,
    }
    start, end = TIMES[kind]
    document[start] = job.created
    if job.ended is not None:
        document[end] = job.ended
    if job.failure:
        document["FailureReason"] = job.failure
    if kind == "TrainingJob":
        document["SecondaryStatus"] = SECONDARY[job.status]
    return document


OPERATIONS = {
    f"{verb}{kind}{suffix}": handler(kind)
    for kind in DESCRIBE_DEFAULTS
    for verb, suffix, handler in (
        ("Create", "", create),
        ("Describe", "", describe),
        ("List", "s", list_jobs),
        ("Stop", "", stop),
    )
}


def _job(plane: Plane, kind: str, name: str) -> JobRecord:
    job = plane.jobs.find(kind, name)
    if job is None:
        raise not_found(f"Requested resource not found: {kind} {name} does not exist.")
    return job
