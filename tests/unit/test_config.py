"""Configuration: one validated object; environment wins over the Secrets Manager secret; nothing leaks."""

import json

import boto3
import pytest
from moto import mock_aws

from payments.core.config import Settings, reset_settings
from payments.core.errors import ConfigurationError


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


def test_without_env_keys_each_secret_is_read_once_from_secrets_manager():
    keys = {"secretKey": "sk_test_sm", "publishableKey": "pk_test_sm"}
    with mock_aws():
        reset_settings()
        client = boto3.client("secretsmanager", region_name="us-east-1")
        api_arn = client.create_secret(Name="stripe", SecretString=json.dumps(keys))["ARN"]
        hook_arn = client.create_secret(Name="refund-hook", SecretString='{"signingSecret": "whsec_ref"}')["ARN"]
        plain_arn = client.create_secret(Name="plain-hook", SecretString="whsec_plain")["ARN"]
        settings = Settings.from_env({"STRIPE_SECRET_ARN": api_arn, "STRIPE_WEBHOOK_SECRET_ARN": hook_arn,
                                      "AWS_REGION": "us-east-1"})
        assert settings.stripe_secret_key() == "sk_test_sm"
        assert settings.stripe_webhook_secret("refund") == "whsec_ref"
        plain = Settings.from_env({"STRIPE_WEBHOOK_SECRET_ARN": plain_arn, "AWS_REGION": "us-east-1"})
        assert plain.stripe_webhook_secret("renewal") == "whsec_plain"
        # The value is cached for the container: a rotated secret is not re-read on every call
        client.put_secret_value(SecretId=api_arn, SecretString=json.dumps({**keys, "secretKey": "sk_test_new"}))
        assert settings.stripe_secret_key() == "sk_test_sm"
    reset_settings()


def test_a_function_reads_only_the_secrets_it_is_given():
    """A callback that never calls Stripe is given no API key secret: asking for the key is a configuration
    error, not a read of some other secret."""
    callback = Settings.from_env({"STRIPE_WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x"})
    with pytest.raises(ConfigurationError) as error:
        callback.stripe_secret_key()
    assert "STRIPE_SECRET_ARN" in error.value.message


def test_an_empty_signing_secret_placeholder_is_a_configuration_error():
    with mock_aws():
        reset_settings()
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="hook", SecretString='{"signingSecret": ""}')["ARN"]
        with pytest.raises(ConfigurationError):
            Settings.from_env({"STRIPE_WEBHOOK_SECRET_ARN": arn}).stripe_webhook_secret("payment")
    reset_settings()


def test_a_signing_secret_is_re_read_on_request_at_most_once_a_minute(monkeypatch):
    from payments.core import config

    with mock_aws():
        reset_settings()
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="hook", SecretString='{"signingSecret": "whsec_old"}')["ARN"]
        settings = Settings.from_env({"STRIPE_WEBHOOK_SECRET_ARN": arn})
        assert settings.stripe_webhook_secret("payment") == "whsec_old"
        client.put_secret_value(SecretId=arn, SecretString='{"signingSecret": "whsec_new"}')
        assert settings.stripe_webhook_secret("payment", refresh=True) == "whsec_old"  # read less than 60 s ago
        monkeypatch.setattr(config, "SECRET_REFRESH_SECONDS", 0)
        assert settings.stripe_webhook_secret("payment") == "whsec_old"  # no refresh asked: the cached value
        assert settings.stripe_webhook_secret("payment", refresh=True) == "whsec_new"
    reset_settings()


@pytest.mark.parametrize("origins", ["https://shop.example.com/path", "ftp://shop.example.com", "shop.example.com"])
def test_redirect_origins_must_be_origins(origins):
    with pytest.raises(ConfigurationError):
        Settings.from_env({"ALLOWED_REDIRECT_ORIGINS": origins})


def test_lists_are_read_comma_or_space_separated():
    settings = Settings.from_env({"SELLABLE_PRICES": "price_a, price_b price_c",
                                  "ALLOWED_REDIRECT_ORIGINS": "https://Shop.Example.com,https://b.example.com/"})
    assert settings.sellable_prices == {"price_a", "price_b", "price_c"}
    assert settings.redirect_origins == {"https://shop.example.com", "https://b.example.com"}


def test_no_key_anywhere_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        Settings.from_env({}).stripe_secret_key()
