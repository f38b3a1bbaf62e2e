"""Configuration: one validated object; environment wins over the Secrets Manager secret; nothing leaks."""

import json

import boto3
import pytest
from moto import mock_aws

from payments.config import Settings, reset_settings
from payments.errors import ConfigurationError


def test_defaults_name_the_tables_by_their_logical_ids():
    settings = Settings.from_env({})
    assert (settings.orders_table, settings.processed_events_table) == ("OrdersTable", "ProcessedEventsTable")
    assert settings.stripe_api_base is None


def test_table_names_and_the_stripe_base_come_from_the_environment():
    settings = Settings.from_env({"ORDERS_TABLE_NAME": "prod-orders", "STRIPE_API_BASE": "http://127.0.0.1:8420/"})
    assert settings.orders_table == "prod-orders" and settings.stripe_api_base == "http://127.0.0.1:8420"


@pytest.mark.parametrize("env", [{"STRIPE_API_BASE": "ftp://x"}, {"STRIPE_TIMEOUT_SECONDS": "soon"},
                                 {"PROCESSED_EVENT_TTL_DAYS": "1"}])
def test_invalid_settings_are_refused(env):
    with pytest.raises(ConfigurationError):
        Settings.from_env(env)


def test_keys_set_in_the_environment_win_and_are_checked_for_their_kind():
    settings = Settings.from_env({"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_PUBLISHABLE_KEY": "pk_test_1",
                                  "STRIPE_WEBHOOK_SECRET": "whsec_1"})
    assert settings.stripe_secret_key() == "sk_test_1"
    assert settings.stripe_publishable_key() == "pk_test_1"
    assert settings.stripe_webhook_secret("payment") == "whsec_1"
    with pytest.raises(ConfigurationError) as error:
        Settings.from_env({"STRIPE_SECRET_KEY": "pk_live_oops"}).stripe_secret_key()
    assert "pk_live_oops" not in error.value.message


def test_without_env_keys_the_secret_is_read_once_from_secrets_manager():
    secret = {"secretKey": "sk_test_sm", "publishableKey": "pk_test_sm",
              "webhookSecrets": {"payment": "whsec_pay", "refund": "whsec_ref"}}
    with mock_aws():
        reset_settings()
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="stripe", SecretString=json.dumps(secret))["ARN"]
        settings = Settings.from_env({"STRIPE_SECRET_ARN": arn, "AWS_REGION": "us-east-1"})
        assert settings.stripe_secret_key() == "sk_test_sm"
        assert settings.stripe_webhook_secret("refund") == "whsec_ref"
        # The value is cached for the container: a rotated secret is not re-read on every call
        client.put_secret_value(SecretId=arn, SecretString=json.dumps({**secret, "secretKey": "sk_test_new"}))
        assert settings.stripe_secret_key() == "sk_test_sm"
        with pytest.raises(ConfigurationError):
            settings.stripe_webhook_secret("renewal")  # missing from the secret
    reset_settings()


def test_no_key_anywhere_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        Settings.from_env({}).stripe_secret_key()
