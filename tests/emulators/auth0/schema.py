"""What Auth0's Management API accepts in a request body, and how it words a refusal.

Auth0 validates every body against a JSON schema with `additionalProperties: false`, so a
misspelt or unsupported field is a 400, never silently ignored. This module keeps the field
lists (taken from the recorded traffic and the API reference) and a small checker that words
failures the way Auth0 does.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from .errors import payload_error

S, B, I, N, A, O, NULL = "string", "boolean", "integer", "number", "array", "object", "null"

_CLIENT_COMMON: dict[str, tuple[str, ...]] = {
    "name": (S,), "description": (S,), "logo_uri": (S,), "callbacks": (A,), "oidc_logout": (O,),
    "oidc_backchannel_logout": (O,), "session_transfer": (O, NULL), "allowed_origins": (A,),
    "web_origins": (A,), "client_aliases": (A,), "allowed_clients": (A,), "allowed_logout_urls": (A,),
    "grant_types": (A,), "token_endpoint_auth_method": (S, NULL), "is_token_endpoint_ip_header_trusted": (B,),
    "app_type": (S,), "is_first_party": (B,), "oidc_conformant": (B,), "jwt_configuration": (O,),
    "encryption_key": (O, NULL), "sso": (B,), "cross_origin_authentication": (B,), "cross_origin_loc": (S, NULL),
    "sso_disabled": (B,), "custom_login_page_on": (B,), "custom_login_page": (S,), "custom_login_page_preview": (S,),
    "form_template": (S,), "addons": (O,), "client_metadata": (O,), "mobile": (O,), "initiate_login_uri": (S,),
    "native_social_login": (O,), "refresh_token": (O, NULL), "default_organization": (O, NULL),
    "organization_usage": (S,), "organization_require_behavior": (S,), "organization_discovery_methods": (A,),
    "client_authentication_methods": (O, NULL), "require_pushed_authorization_requests": (B,),
    "require_proof_of_possession": (B,), "signed_request_object": (O,), "compliance_level": (S, NULL),
    "skip_non_verifiable_callback_uri_confirmation_prompt": (B, NULL), "token_exchange": (O,),
    "par_request_expiry": (I, NULL), "token_quota": (O,), "resource_server_identifier": (S,),
    "fedcm_login": (O,), "async_approval_notification_channels": (A,), "third_party_security_mode": (S,),
    "redirection_policy": (S,), "express_configuration": (O,), "my_organization_configuration": (O,),
}
CLIENT_CREATE = dict(_CLIENT_COMMON)
CLIENT_UPDATE = {**_CLIENT_COMMON, "client_secret": (S,)}

CONNECTION_CREATE: dict[str, tuple[str, ...]] = {
    "name": (S,), "display_name": (S,), "strategy": (S,), "options": (O,), "enabled_clients": (A,),
    "is_domain_connection": (B,), "show_as_button": (B,), "realms": (A,), "metadata": (O,),
    "authentication": (O,), "connected_accounts": (O,),
}
CONNECTION_UPDATE = {k: v for k, v in CONNECTION_CREATE.items() if k not in ("name", "strategy")}

_USER_COMMON: dict[str, tuple[str, ...]] = {
    "email": (S,), "phone_number": (S,), "user_metadata": (O,), "blocked": (B,), "email_verified": (B,),
    "phone_verified": (B,), "app_metadata": (O,), "given_name": (S,), "family_name": (S,), "name": (S,),
    "nickname": (S,), "picture": (S,), "connection": (S,), "password": (S,), "verify_email": (B,),
    "username": (S,),
}
USER_CREATE = {**_USER_COMMON, "user_id": (S,)}
USER_UPDATE = {**_USER_COMMON, "verify_phone_number": (B,), "client_id": (S,)}

TENANT_SETTINGS: dict[str, tuple[str, ...]] = {
    name: (O, NULL) if name in {
        "change_password", "device_flow", "guardian_mfa_page", "error_page", "default_token_quota", "flags",
        "access_token", "security_headers", "session_cookie", "sessions", "oidc_logout", "mtls",
        "country_codes", "universal_login",
    } else (A, NULL) if name in {"allowed_logout_urls", "enabled_locales", "acr_values_supported"}
    else (I, N, NULL) if "lifetime" in name
    else (B, NULL) if name in {
        "customize_mfa_in_postlogin_action", "allow_organization_name_in_authentication_api",
        "pushed_authorization_requests_supported", "authorization_response_iss_parameter_supported",
        "dpop_strict_refresh_token_binding", "skip_non_verifiable_callback_uri_confirmation_prompt",
        "client_id_metadata_document_supported", "client_id_metadata_document_dynamic_registration_supported",
        "enable_ai_guide", "phone_consolidated_experience", "include_session_metadata_in_tenant_logs",
    } else (S, NULL)
    for name in (
        "change_password", "device_flow", "guardian_mfa_page", "default_audience", "default_directory",
        "error_page", "default_token_quota", "flags", "friendly_name", "picture_url", "support_email",
        "support_url", "allowed_logout_urls", "session_lifetime", "session_lifetime_in_minutes",
        "idle_session_lifetime", "idle_session_lifetime_in_minutes", "ephemeral_session_lifetime",
        "idle_ephemeral_session_lifetime", "ephemeral_session_lifetime_in_minutes",
        "idle_ephemeral_session_lifetime_in_minutes", "sandbox_version", "legacy_sandbox_version",
        "default_redirection_uri", "enabled_locales", "access_token", "security_headers", "session_cookie",
        "sessions", "oidc_logout", "customize_mfa_in_postlogin_action",
        "allow_organization_name_in_authentication_api", "acr_values_supported", "mtls",
        "pushed_authorization_requests_supported", "authorization_response_iss_parameter_supported",
        "dpop_strict_refresh_token_binding", "skip_non_verifiable_callback_uri_confirmation_prompt",
        "resource_parameter_profile", "client_id_metadata_document_supported",
        "client_id_metadata_document_dynamic_registration_supported", "enable_ai_guide",
        "phone_consolidated_experience", "include_session_metadata_in_tenant_logs",
        "dynamic_client_registration_security_mode", "country_codes", "universal_login",
    )
}

_RESOURCE_SERVER_COMMON: dict[str, tuple[str, ...]] = {
    "name": (S,), "scopes": (A,), "signing_alg": (S,), "signing_secret": (S,), "allow_offline_access": (B,),
    "allow_online_access": (B,), "token_lifetime": (I,), "token_lifetime_for_web": (I,), "token_dialect": (S,),
    "skip_consent_for_verifiable_first_party_clients": (B,), "enforce_policies": (B,),
    "token_encryption": (O, NULL), "consent_policy": (S, NULL), "authorization_details": (A, NULL),
    "proof_of_possession": (O, NULL), "subject_type_authorization": (O,),
}
RESOURCE_SERVER_CREATE = {**_RESOURCE_SERVER_COMMON, "identifier": (S,)}
RESOURCE_SERVER_UPDATE = dict(_RESOURCE_SERVER_COMMON)

CONNECTION_CLIENT_ITEM = {"client_id": (S,), "status": (B,)}

#: The bulk import file's per-user schema (Auth0's "Bulk User Import Database Schema").
IMPORT_USER: dict[str, tuple[str, ...]] = {
    "email": (S,), "email_verified": (B,), "user_id": (S,), "username": (S,), "given_name": (S,),
    "family_name": (S,), "name": (S,), "nickname": (S,), "picture": (S,), "blocked": (B,),
    "app_metadata": (O,), "user_metadata": (O,), "password_hash": (S,), "custom_password_hash": (O,),
    "mfa_factors": (A,), "phone_number": (S,), "phone_verified": (B,),
}

CLIENT_NAME = re.compile(r"^[^<>]+$")
CONNECTION_NAME = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?$")
CONNECTION_NAME_ABOUT = (
    "The name of the connection. Must start and end with an alphanumeric character and can only "
    "contain alphanumeric characters and '-'. Max length 128"
)
METADATA_ABOUT = (
    "Metadata associated with the {what}, in the form of an object with string values (max 255 chars). "
    "Maximum of 10 metadata properties allowed"
)


def type_of(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return B
    if isinstance(value, int):
        return I
    if isinstance(value, float):
        return N
    if isinstance(value, str):
        return S
    if isinstance(value, list):
        return A
    return O


def check_body(body: Any, fields: Mapping[str, tuple[str, ...]], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Refuse what Auth0's schema refuses: not an object, unknown fields, wrong types, missing fields."""
    if not isinstance(body, dict):
        raise payload_error(f"Expected type object but found type {type_of(body)}")
    unknown = [key for key in body if key not in fields]
    if unknown:
        raise payload_error(f"Additional properties not allowed: {','.join(unknown)}")
    for key, value in body.items():
        allowed = fields[key]
        found = type_of(value)
        if found in allowed or (found == I and N in allowed):
            continue
        raise payload_error(f"Expected type {allowed[0]} but found type {found}", key)
    for key in required:
        if key not in body:
            raise payload_error(f"Missing required property: {key}")
    return body


def check_metadata(metadata: Any, prop: str, what: str) -> None:
    """At most 10 keys, string values of at most 255 characters (clients and connections)."""
    if not isinstance(metadata, dict):
        return
    about = METADATA_ABOUT.format(what=what)
    if len(metadata) > 10:
        raise payload_error(f"Too many properties defined ({len(metadata)}), maximum 10", prop, about)
    for key, value in metadata.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise payload_error(f"Expected type string but found type {type_of(value)}", f"{prop}.{key}", about)
        if len(value) > 255:
            raise payload_error(f"String is too long ({len(value)} chars), maximum 255", f"{prop}.{key}", about)
