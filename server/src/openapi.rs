//! The OpenAPI document of the whole API: every group's part, merged, with the
//! shared security schemes and error answers. `docs/openapi.json` is this
//! document as [`json`] prints it (`make openapi` rewrites the file; a test
//! checks the two agree).

use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};

/// Every group's operations in one document. Adding a group is one line here,
/// as in [`crate::routes`].
pub fn document() -> OpenApi {
    let info = InfoBuilder::new()
        .title("KohakuRiver user management")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Users, roles, sessions, API tokens, invitations, groups, task approval, VPS assignment and audit. \
             Every error answer is `{\"detail\", \"code\", \"errors\"?}` (see `ErrorBody`).",
        ))
        .build();
    let parts = [
        krv_health::openapi(),
        krv_auth::openapi(),
        krv_tokens::openapi(),
        krv_users::openapi(),
        krv_invitations::openapi(),
        krv_groups::openapi(),
        krv_tasks::openapi(),
        krv_vps::openapi(),
        krv_admin::openapi(),
    ];
    let api = parts.into_iter().fold(OpenApiBuilder::new().info(info).build(), OpenApi::merge_from);
    shared::http::openapi::finish(api)
}

/// The document as `docs/openapi.json` holds it: pretty-printed, ending in a newline.
pub fn json() -> serde_json::Result<String> {
    document().to_pretty_json().map(|text| text + "\n")
}
