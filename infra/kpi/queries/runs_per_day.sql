-- Pipeline runs per day and variant (dt is the run date, UTC).
SELECT
    dt,
    variant,
    COUNT(*) AS runs
FROM model_kpis
GROUP BY dt, variant
ORDER BY dt, variant
