"""KPI: the Glue table over the KPI CSVs (from the one schema file), an Athena workgroup and its named queries."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_quicksight as quicksight
from constructs import Construct

from localsage.facts.config import ProjectConfig
from localsage.facts.kpi_schema import KpiSchema, quicksight_type
from localsage.kpi.queries import QUERY_DIR, NamedQuery

ATHENA_RESULTS_PREFIX = "athena-results/"
PROJECTION_START = "2020-01-01"
QUICKSIGHT_ACTIONS = (
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:PassDataSet",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
)


class KpiStack(cdk.Stack):
    """Glue database + table (partition projection on the date), workgroup, named queries, optional QuickSight."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ProjectConfig,
        bucket_name: str,
        schema: KpiSchema,
        queries: list[NamedQuery],
        bytes_scanned_cutoff: int,
        quicksight_principal_arns: tuple[str, ...],
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.database = glue.CfnDatabase(
            self,
            "KpiDatabase",
            catalog_id=cdk.Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=config.glue_database, description=f"Model KPIs of {config.use_case_id}"
            ),
        )
        location = f"s3://{bucket_name}/{config.kpi_prefix}"
        self.table = glue.CfnTable(
            self,
            "KpiTable",
            catalog_id=cdk.Aws.ACCOUNT_ID,
            database_name=config.glue_database,
            table_input=glue.CfnTable.TableInputProperty(
                name=config.kpi_table,
                description="One row per pipeline execution, written by the Evaluate step",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "csv",
                    "skip.header.line.count": "1",
                    "projection.enabled": "true",
                    "projection.dt.type": "date",
                    "projection.dt.format": "yyyy-MM-dd",
                    "projection.dt.range": f"{PROJECTION_START},NOW",
                    "projection.dt.interval": "1",
                    "projection.dt.interval.unit": "DAYS",
                    "storage.location.template": f"{location}dt=${{dt}}/",
                },
                partition_keys=[_glue_column(column) for column in schema.partition_keys],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                        parameters={"field.delim": ",", "serialization.format": ","},
                    ),
                    columns=[_glue_column(column) for column in schema.columns],
                ),
            ),
        )
        self.table.add_resource_dependency(self.database)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "KpiWorkGroup",
            name=config.athena_workgroup,
            description=f"KPI queries of {config.use_case_id}",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{bucket_name}/{ATHENA_RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        self.schema = schema
        self.named_queries = [self._named_query(config, query) for query in queries]
        if quicksight_principal_arns:
            self._quicksight(config, quicksight_principal_arns)

    def _named_query(self, config: ProjectConfig, query: NamedQuery) -> athena.CfnNamedQuery:
        named = athena.CfnNamedQuery(
            self,
            f"Query{''.join(part.capitalize() for part in query.name.replace('-', '_').split('_'))}",
            name=query.name,
            database=config.glue_database,
            work_group=self.workgroup.name,
            query_string=query.sql,
            description=f"From {QUERY_DIR.as_posix()}/{query.name}.sql",
        )
        named.add_resource_dependency(self.workgroup)
        named.add_resource_dependency(self.database)
        return named

    def _quicksight(self, config: ProjectConfig, principal_arns: tuple[str, ...]) -> None:
        base = config.pipeline_base_name
        data_source = quicksight.CfnDataSource(
            self,
            "KpiDataSource",
            aws_account_id=cdk.Aws.ACCOUNT_ID,
            data_source_id=f"{base}-kpis",
            name=f"{base} KPIs (Athena)",
            type="ATHENA",
            data_source_parameters=quicksight.CfnDataSource.DataSourceParametersProperty(
                athena_parameters=quicksight.CfnDataSource.AthenaParametersProperty(work_group=config.athena_workgroup)
            ),
            permissions=[
                quicksight.CfnDataSource.ResourcePermissionProperty(
                    principal=arn,
                    actions=[
                        "quicksight:DescribeDataSource",
                        "quicksight:DescribeDataSourcePermissions",
                        "quicksight:PassDataSource",
                    ],
                )
                for arn in principal_arns
            ],
        )
        data_source.add_resource_dependency(self.workgroup)
        data_set = quicksight.CfnDataSet(
            self,
            "KpiDataSet",
            aws_account_id=cdk.Aws.ACCOUNT_ID,
            data_set_id=f"{base}-model-kpis",
            name=f"{base} model KPIs",
            import_mode="DIRECT_QUERY",
            physical_table_map={
                "kpis": quicksight.CfnDataSet.PhysicalTableProperty(
                    relational_table=quicksight.CfnDataSet.RelationalTableProperty(
                        data_source_arn=data_source.attr_arn,
                        catalog="AwsDataCatalog",
                        schema=config.glue_database,
                        name=config.kpi_table,
                        input_columns=[
                            quicksight.CfnDataSet.InputColumnProperty(
                                name=column.name, type=quicksight_type(column.type)
                            )
                            for column in (*self.schema.columns, *self.schema.partition_keys)
                        ],
                    )
                )
            },
            permissions=[
                quicksight.CfnDataSet.ResourcePermissionProperty(principal=arn, actions=list(QUICKSIGHT_ACTIONS))
                for arn in principal_arns
            ],
        )
        data_set.add_resource_dependency(self.table)


def _glue_column(column) -> glue.CfnTable.ColumnProperty:
    return glue.CfnTable.ColumnProperty(name=column.name, type=column.type, comment=column.comment or None)
