"""Notifications: an encrypted topic, and a rule that turns model package state changes into readable messages."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from localsage.facts import events as model_events
from localsage.facts.config import ProjectConfig
from stacks import nag


class NotificationsStack(cdk.Stack):
    """SNS topic (KMS) + EventBridge rule with an input transformer: no Lambda between event and message."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ProjectConfig,
        notify_experimental: bool,
        email: str,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # The AWS-managed SNS key cannot be used by EventBridge, so the topic gets its own key.
        self.key = kms.Key(
            self,
            "TopicKey",
            description=f"Encrypts the {config.sns_topic_name} topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.topic = sns.Topic(
            self,
            "ModelEventsTopic",
            topic_name=config.sns_topic_name,
            display_name=f"{config.pipeline_base_name} model events",
            master_key=self.key,
            enforce_ssl=True,
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        # The rule publishes through a role of this account, not as the EventBridge service principal: a topic or
        # key policy open to events.amazonaws.com would let any account's rule publish forged messages.
        publisher = iam.Role(
            self,
            "RulePublisher",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description=f"Lets the model package rule publish to {config.sns_topic_name}",
        )
        # Publishing to the encrypted topic is granted by the target (topic.grant_publish): sns:Publish on the
        # topic, kms:Decrypt and kms:GenerateDataKey* on its key, for this role only.
        nag.acknowledge_wildcard_actions(
            publisher, ["kms:GenerateDataKey*"], "CDK's grant for an encrypted topic, limited to the topic's own key."
        )
        self.rule = events.Rule(
            self,
            "ModelPackageStateChangeRule",
            description="Approved and newly pending model packages of the project's model package groups",
            event_pattern=_event_pattern(
                model_events.model_package_state_change_pattern(
                    model_events.notified_groups(config, notify_experimental)
                )
            ),
            targets=[targets.SnsTopic(self.topic, role=publisher, authorize_using_role=True)],
        )
        # The input transformer comes verbatim from localsage.events (shared with the local approval flow);
        # the L2 target would rename its input paths.
        rule_resource = self.rule.node.default_child
        rule_resource.add_property_override("Targets.0.InputTransformer", model_events.input_transformer())
        cdk.CfnOutput(self, "TopicArn", value=self.topic.topic_arn)


def _event_pattern(pattern: dict) -> events.EventPattern:
    return events.EventPattern(
        source=pattern["source"],
        detail_type=pattern["detail-type"],
        detail=pattern["detail"],
    )
