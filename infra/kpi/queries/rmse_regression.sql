-- Regression vs the previous run of the same pipeline and variant: regressed when rmse worsens by more than 5%.
WITH ordered AS (
    SELECT
        pipeline_name,
        variant,
        execution_id,
        run_ts,
        rmse,
        LAG(rmse) OVER (
            PARTITION BY pipeline_name, variant
            ORDER BY from_iso8601_timestamp(run_ts), execution_id
        ) AS previous_rmse
    FROM model_kpis
)
SELECT
    pipeline_name,
    variant,
    execution_id,
    run_ts,
    rmse,
    previous_rmse,
    (rmse - previous_rmse) / NULLIF(previous_rmse, 0) AS rmse_change,
    COALESCE(rmse > previous_rmse * 1.05, false) AS regressed
FROM ordered
