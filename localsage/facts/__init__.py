"""Facts: plain values and rules every other layer reads (project names, the KPI schema, the notification
pattern, the CDK context keys, what counts as a loopback endpoint). Nothing here talks to AWS or reads ml/."""
