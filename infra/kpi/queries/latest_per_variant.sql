-- Latest metrics per pipeline and variant: the most recent run of each.
WITH latest AS (
    SELECT
        pipeline_name,
        variant,
        max_by(execution_id, from_iso8601_timestamp(run_ts)) AS execution_id
    FROM model_kpis
    GROUP BY pipeline_name, variant
)
SELECT
    runs.pipeline_name,
    runs.variant,
    runs.execution_id,
    runs.run_ts,
    runs.dt,
    runs.rmse,
    runs.mse,
    runs.mae,
    runs.r2,
    runs.threshold,
    runs.model_package_arn
FROM model_kpis AS runs
JOIN latest
    ON runs.pipeline_name = latest.pipeline_name
    AND runs.variant = latest.variant
    AND runs.execution_id = latest.execution_id
ORDER BY runs.pipeline_name, runs.variant
