-- 7-run moving average of rmse per pipeline and variant (the current run and the six before it).
SELECT
    pipeline_name,
    variant,
    execution_id,
    run_ts,
    rmse,
    AVG(rmse) OVER (
        PARTITION BY pipeline_name, variant
        ORDER BY from_iso8601_timestamp(run_ts), execution_id
        ROWS BETWEEN 6 PRECEDING AND CURRENT ROW
    ) AS rmse_avg_7
FROM model_kpis
