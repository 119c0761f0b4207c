//! The API's description: `GET /api/openapi.json` lists exactly the
//! router's routes and methods, is OpenAPI 3.1 whose references resolve,
//! and `/docs` serves Swagger UI from the binary.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

const METHODS: [&str; 5] = ["get", "post", "patch", "delete", "put"];

async fn document() -> Value {
    let app = spawn_app().await;
    let res = app.get("/api/openapi.json", None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.header("content-type"),
        Some("application/json"),
        "the document is JSON"
    );
    res.body
}

fn operations(doc: &Value) -> impl Iterator<Item = (&str, &str, &Value)> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter_map(move |m| item.get(*m).map(|operation| (path.as_str(), *m, operation)))
        })
}

#[actix_web::test]
async fn the_document_lists_every_route_of_the_router_and_no_other() {
    let doc = document().await;
    let router: BTreeSet<(String, String)> = shuffify::routes::endpoints()
        .iter()
        .flat_map(|e| {
            e.methods()
                .into_iter()
                .map(|m| (e.path().to_string(), m.to_ascii_lowercase()))
        })
        .collect();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .map(|(path, method, _)| (path.to_string(), method.to_string()))
        .collect();
    let undocumented: Vec<_> = router.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&router).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
    assert!(
        router.len() >= 47,
        "the walk saw the whole router: {}",
        router.len()
    );
}

#[actix_web::test]
async fn the_document_is_openapi_3_1_and_every_reference_resolves() {
    let doc = document().await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Shuffify");
    let text = doc.to_string();
    let mut refs = 0;
    for piece in text.split("\"$ref\":\"#/").skip(1) {
        let pointer = &piece[..piece.find('"').unwrap()];
        refs += 1;
        assert!(
            doc.pointer(&format!("/{pointer}")).is_some(),
            "unresolved $ref #/{pointer}"
        );
    }
    assert!(refs > 50, "{refs} references");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[actix_web::test]
async fn every_operation_states_its_security_errors_and_request_id() {
    let doc = document().await;
    let public: BTreeSet<&str> = [
        "/health",
        "/health/live",
        "/health/ready",
        "/metrics",
        "/api/openapi.json",
        "/api/auth/register",
        "/api/auth/login",
        // Authenticated by its single-use `state`, not a token.
        "/api/providers/spotify/callback",
    ]
    .into();
    for (path, method, operation) in operations(&doc) {
        let responses = &operation["responses"];
        let secured = operation["security"][0].get("bearer").is_some();
        assert_eq!(secured, !public.contains(path), "{method} {path}: security");
        for status in ["400", "431", "500"] {
            assert!(
                responses.get(status).is_some(),
                "{method} {path} lacks {status}"
            );
        }
        if secured {
            // `DELETE /api/me` and `POST /api/me/password` also answer
            // 401 for a wrong password, without `WWW-Authenticate`: their
            // 401 names both.
            let confirms = [("/api/me", "delete"), ("/api/me/password", "post")];
            let expected = if confirms.contains(&(path, method)) {
                "#/components/responses/UnauthorizedOrWrongPassword"
            } else {
                "#/components/responses/Unauthorized"
            };
            assert_eq!(responses["401"]["$ref"], expected, "{method} {path}");
        }
        if operation.get("requestBody").is_some() {
            assert!(responses.get("413").is_some(), "{method} {path} lacks 413");
        }
        for (status, response) in responses.as_object().unwrap() {
            let headers = match response.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    &doc["components"]["responses"][r.rsplit('/').next().unwrap()]["headers"]
                }
                None => &response["headers"],
            };
            assert_eq!(
                headers["X-Request-Id"]["required"], true,
                "{method} {path} {status}: X-Request-Id"
            );
        }
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "query" && parameter["required"] != true {
                assert_eq!(
                    parameter["allowEmptyValue"], true,
                    "{method} {path} {}: an empty value counts as absent",
                    parameter["name"]
                );
            }
        }
    }
}

#[actix_web::test]
async fn bounds_and_enums_come_from_the_code() {
    let doc = document().await;
    let schemas = &doc["components"]["schemas"];
    let name = &schemas["CreatePlaylistBody"]["properties"]["name"];
    assert_eq!(name["minLength"], shuffify::validate::PLAYLIST_NAME.min);
    assert_eq!(name["maxLength"], shuffify::validate::PLAYLIST_NAME.max);
    let keys: Vec<&str> = schemas["AlgorithmKey"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(keys, shuffify::services::shuffle::keys());
    assert_eq!(
        schemas["ActivityType"]["enum"].as_array().unwrap().len(),
        <shuffify::enums::ActivityType as strum::IntoEnumIterator>::iter().count()
    );
    assert_eq!(
        schemas["ActivityRange"]["enum"],
        serde_json::json!(["24h", "7d", "30d", "90d", "all"])
    );
    let params = &schemas["AlgorithmParams"];
    assert_eq!(params["additionalProperties"], false);
    assert_eq!(params["properties"]["section_count"]["minimum"], 2);
    assert_eq!(params["properties"]["section_count"]["maximum"], 10);
    assert_eq!(
        params["properties"]["direction"]["enum"],
        serde_json::json!(["ascending", "descending"])
    );
    let limit = operations(&doc)
        .find(|(path, method, _)| *path == "/api/activity/since" && *method == "get")
        .and_then(|(_, _, op)| {
            op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "limit")
                .cloned()
        })
        .unwrap();
    assert_eq!(limit["schema"]["maximum"], 500);
}

#[actix_web::test]
async fn docs_serve_swagger_ui_from_the_binary() {
    let app = spawn_app().await;
    let res = app.get("/docs", None).await;
    assert_eq!(res.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.header("location"), Some("/docs/"));
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    let config = app.get("/docs/swagger-initializer.js", None).await;
    assert_eq!(config.status, StatusCode::OK);
    assert!(config.text.contains("/api/openapi.json"), "{}", config.text);
    // Nothing is fetched from elsewhere: no absolute URL in the page or
    // its configuration, and the validator is off.
    for text in [&page.text, &config.text] {
        assert!(!text.contains("https://"), "{text}");
    }
    assert!(
        config.text.contains("\"validatorUrl\": \"none\""),
        "{}",
        config.text
    );
    let bundle = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(
        bundle.text.len() > 100_000,
        "the bundle is served from the binary"
    );
    // An asset that does not exist is the JSON 404.
    app.get("/docs/missing.js", None)
        .await
        .error(404, "not_found");
}

/// The query parameters each route takes (and refuses others than) are
/// exactly those its operation documents: both come from the same
/// `IntoParams` structs, and this holds them together. Only the routes
/// outside `/api/` and Spotify's callback take any query.
#[actix_web::test]
async fn every_route_takes_exactly_the_query_parameters_it_documents() {
    let doc = document().await;
    let mut lenient = Vec::new();
    let mut checked = 0;
    let callback = "/api/providers/spotify/callback";
    for endpoint in shuffify::routes::endpoints() {
        for method in endpoint.methods() {
            let operation = &doc["paths"][endpoint.path()][method.to_ascii_lowercase()];
            let mut documented: Vec<String> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            documented.sort();
            match endpoint.query_names(method) {
                Some(accepted) => {
                    assert_eq!(
                        accepted,
                        documented.as_slice(),
                        "{method} {}: accepted vs documented",
                        endpoint.path()
                    );
                    checked += 1;
                }
                None => lenient.push(format!("{method} {}", endpoint.path())),
            }
        }
    }
    for route in &lenient {
        let path = route.split_once(' ').unwrap().1;
        assert!(
            !path.starts_with("/api/") || path == callback,
            "{route} takes any query"
        );
    }
    assert!(lenient.contains(&format!("GET {callback}")));
    assert!(checked >= 50, "{checked}");
}

/// Operation ids are unique (`openapi-spec-validator`, which the fuzzing
/// script runs first, refuses a document where two are the same).
#[actix_web::test]
async fn operation_ids_are_unique() {
    let doc = document().await;
    let mut seen = BTreeSet::new();
    for (path, method, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap_or_default();
        assert!(seen.insert(id.to_string()), "{method} {path}: {id} again");
    }
}
