-- The dashboard's view (and QuickSight data set): one row per run with its time, date and threshold check.
CREATE OR REPLACE VIEW model_kpis_dashboard AS
SELECT
    pipeline_name,
    variant,
    execution_id,
    from_iso8601_timestamp(run_ts) AS run_time,
    date_parse(dt, '%Y-%m-%d') AS run_date,
    rmse,
    mse,
    mae,
    r2,
    threshold,
    rmse <= threshold AS within_threshold,
    model_package_arn <> '' AS registered
FROM model_kpis
