//! The rooms API's errors: a status and a JSON body `{"error", "message"}`, the same
//! whether this node or, in a cluster, the node hosting the room decided.

use std::time::Duration;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cluster::ClusterError;
use crate::cluster::rpc::WireError;
use crate::control::config::ConfigError;
use crate::control::registry::RegistryError;
use crate::obs::counters::{ApiRefusal, Counters};

/// An API error: status and JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// Boxed: errors travel in every handler's `Result`, keep that small.
    body: Box<ErrorBody>,
    /// Seconds for `Retry-After`.
    retry_after: Option<u64>,
}

/// An error's JSON body. A spec field out of range adds the field and its range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Number>,
}

/// A bound as JSON: an integer when it is one (`1000`, not `1000.0`).
fn number(x: f64) -> Option<serde_json::Number> {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        Some(serde_json::Number::from(x as i64))
    } else {
        serde_json::Number::from_f64(x)
    }
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                error: kind.to_owned(),
                message: message.into(),
                field: None,
                min: None,
                max: None,
            }),
            retry_after: None,
        }
    }

    /// The error kind (`room_full`, ...).
    pub fn kind(&self) -> &str {
        &self.body.error
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error as it crosses the cluster to the node that asked.
    pub(crate) fn to_wire(&self) -> WireError {
        WireError {
            status: self.status.as_u16(),
            body: serde_json::to_value(&self.body).unwrap_or(Value::Null),
            retry_after: self.retry_after,
        }
    }

    /// Another node's answer, answered in turn.
    pub(crate) fn from_wire(wire: WireError) -> ApiError {
        let body = serde_json::from_value(wire.body).unwrap_or_else(|_| {
            Box::new(ErrorBody {
                error: "bad_gateway".to_owned(),
                message: "the hosting node's answer does not decode".to_owned(),
                field: None,
                min: None,
                max: None,
            })
        });
        ApiError {
            status: StatusCode::from_u16(wire.status).unwrap_or(StatusCode::BAD_GATEWAY),
            body,
            retry_after: wire.retry_after,
        }
    }

    /// A refusal by the per-address guards, counted.
    pub(crate) fn refused(
        why: ApiRefusal,
        counters: &Counters,
        join_token_ttl: Duration,
    ) -> ApiError {
        counters.api_refused(why);
        let (kind, message, retry_after) = match why {
            ApiRefusal::JoinRateLimited => (
                "rate_limited",
                "too many seat reservations from your address (--api-join-rate)",
                1,
            ),
            ApiRefusal::CreateRateLimited => (
                "rate_limited",
                "too many rooms created from your address (--api-create-rate per minute)",
                60,
            ),
            ApiRefusal::DeleteRateLimited => (
                "rate_limited",
                "too many rooms closed or players kicked from your address (--api-delete-rate per minute)",
                60,
            ),
            _ => (
                "too_many_reservations",
                "your address holds its allowance of unused seat reservations (--ip-room-reservations, --ip-reservations): use them or let them expire",
                join_token_ttl.as_secs().max(1),
            ),
        };
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, kind, message)
        }
    }

    /// A room spec the limits refuse, naming the field and its range when one is out.
    pub(crate) fn invalid_room(e: ConfigError) -> ApiError {
        let mut error = ApiError::new(StatusCode::BAD_REQUEST, "invalid_room", e.to_string());
        if let ConfigError::OutOfRange(r) = &e {
            error.body.field = Some(r.field.to_owned());
            error.body.min = number(r.min);
            error.body.max = number(r.max);
        }
        error
    }

    pub(crate) fn unknown_player(room: &str, player: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_player",
            format!("room {room:?} has no player {player:?}"),
        )
    }

    pub(crate) fn unknown_room(id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_room",
            format!("no room {id:?}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(*self.body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        let (status, kind) = match e {
            RegistryError::Config(e) => return ApiError::invalid_room(e),
            RegistryError::Unknown(_) => (StatusCode::NOT_FOUND, "unknown_room"),
            RegistryError::Exists(_) => (StatusCode::CONFLICT, "room_exists"),
            RegistryError::TooMany(_) => (StatusCode::SERVICE_UNAVAILABLE, "too_many_rooms"),
            RegistryError::EntityBudget { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "entity_budget")
            }
            RegistryError::Room(_) => (StatusCode::INTERNAL_SERVER_ERROR, "room_failed"),
            RegistryError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
        };
        ApiError::new(status, kind, e.to_string())
    }
}

impl From<ClusterError> for ApiError {
    fn from(e: ClusterError) -> ApiError {
        let (status, kind) = match e {
            ClusterError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "cluster_timeout"),
            ClusterError::Unreachable(_) => (StatusCode::SERVICE_UNAVAILABLE, "node_unreachable"),
            ClusterError::Redis(_)
            | ClusterError::Unsubscribed
            | ClusterError::Record(_)
            | ClusterError::Url(_) => (StatusCode::SERVICE_UNAVAILABLE, "cluster_unavailable"),
        };
        ApiError::new(status, kind, e.to_string())
    }
}
