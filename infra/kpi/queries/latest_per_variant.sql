-- Latest metrics per pipeline and variant: the most recent run of each.
SELECT
    pipeline_name,
    variant,
    execution_id,
    run_ts,
    dt,
    rmse,
    mse,
    mae,
    r2,
    threshold,
    model_package_arn
FROM (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY pipeline_name, variant
            ORDER BY from_iso8601_timestamp(run_ts) DESC, execution_id DESC
        ) AS recency
    FROM model_kpis
) AS ranked
WHERE recency = 1
ORDER BY pipeline_name, variant
