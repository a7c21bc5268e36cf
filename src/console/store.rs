//! The console's database through sqlx's `Any` driver: SQLite (a file, the default) or
//! PostgreSQL (a URL), one schema for both (`migrations/`, applied when it opens).

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use super::board::StatusMessage;
use super::case::{fold, Case, Decision};
use super::stats::CaseFacts;
use crate::alert::Alert;
use crate::rules::Reason;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("a stored case of episode {episode} cannot be read: {cause}")]
    Corrupt { episode: String, cause: String },
}

pub type StoreResult<T> = std::result::Result<T, StoreError>;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct Store {
    pool: AnyPool,
}

/// What the case list is narrowed to (every field optional).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Filter {
    pub site: Option<String>,
    pub camera: Option<String>,
    pub grid_cell: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub state: Option<String>,
    /// Raised on or after / on or before this day (`YYYY-MM-DD`, the camera's local date).
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One message of a case's timeline.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub id: String,
    pub phase: String,
    pub reason: Option<String>,
    pub received_ms: i64,
}

fn enum_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Store {
    /// Opens (for SQLite: creates) the database and brings its schema up to date.
    pub async fn open(url: &str) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let url = if sqlite && !url.contains('?') {
            format!("{url}?mode=rwc")
        } else {
            url.to_string()
        };
        // SQLite takes one writer at a time: one connection avoids "database is locked".
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 1 } else { 8 })
            .connect(&url)
            .await?;
        if sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&pool)
                .await?;
        }
        MIGRATOR.run(&pool).await?;
        let store = Store { pool };
        store.backfill().await?;
        Ok(store)
    }

    /// Stores an alert and folds it into its case; `None` when the alert was already stored
    /// (a QoS 1 redelivery or a second console's copy).
    pub async fn record(
        &self,
        alert: &Alert,
        payload: &str,
        broker: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Case>> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO alerts (id, episode_id, phase, reason, received_ms, payload) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&alert.id)
        .bind(&alert.episode_id)
        .bind(enum_text(&alert.phase))
        .bind(alert.reason.as_ref().map(enum_text))
        .bind(now_ms)
        .bind(payload)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let row = sqlx::query(&format!("{SELECT_CASE} WHERE episode_id = $1"))
            .bind(&alert.episode_id)
            .fetch_optional(&mut *tx)
            .await?;
        let before = row.map(|r| case_of(&r)).transpose()?;
        let case = fold(before, alert, now_ms);
        sqlx::query(
            "INSERT INTO cases (episode_id, site, camera_id, grid_cell, type, subtype, zone, state, \
             first_alert, end_alert, end_reason, decision, operator, decided_ms, messages, \
             received_ms, updated_ms, broker, last_alert, day, clear_s) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
             ON CONFLICT (episode_id) DO UPDATE SET site = excluded.site, camera_id = excluded.camera_id, \
             grid_cell = excluded.grid_cell, type = excluded.type, subtype = excluded.subtype, \
             zone = excluded.zone, state = excluded.state, first_alert = excluded.first_alert, \
             end_alert = excluded.end_alert, end_reason = excluded.end_reason, \
             messages = excluded.messages, updated_ms = excluded.updated_ms, \
             last_alert = excluded.last_alert, day = excluded.day, clear_s = excluded.clear_s",
        )
        .bind(&case.episode_id)
        .bind(&case.last.site)
        .bind(&case.last.camera_id)
        .bind(&case.last.grid_cell)
        .bind(enum_text(&case.last.event_type))
        .bind(enum_text(&case.last.subtype))
        .bind(&case.last.zone)
        .bind(case.state().as_str())
        .bind(&case.first_alert)
        .bind(case.end_alert.clone())
        .bind(case.end_reason.as_ref().map(enum_text))
        .bind(case.decision.map(|d| d.as_str().to_string()))
        .bind(case.operator.clone())
        .bind(case.decided_ms)
        .bind(case.messages)
        .bind(case.received_ms)
        .bind(case.updated_ms)
        .bind(broker)
        .bind(serde_json::to_string(&case.last).unwrap_or_default())
        .bind(case.day())
        .bind(case.clear_seconds())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(case))
    }

    pub async fn case(&self, episode_id: &str) -> StoreResult<Option<(Case, String)>> {
        let row = sqlx::query(&format!("{SELECT_CASE} WHERE episode_id = $1"))
            .bind(episode_id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => {
                let broker: String = r.try_get("broker")?;
                Ok(Some((case_of(&r)?, broker)))
            }
            None => Ok(None),
        }
    }

    /// The latest cases (most recently changed first), narrowed by `filter`.
    pub async fn cases(&self, filter: &Filter, limit: i64) -> StoreResult<Vec<Case>> {
        let mut sql = format!("{SELECT_CASE} WHERE 1 = 1");
        let mut binds: Vec<&str> = Vec::new();
        for (column, op, value) in [
            ("site", "=", &filter.site),
            ("camera_id", "=", &filter.camera),
            ("grid_cell", "=", &filter.grid_cell),
            ("type", "=", &filter.event_type),
            ("state", "=", &filter.state),
            ("day", ">=", &filter.from),
            ("day", "<=", &filter.to),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                binds.push(v);
                sql.push_str(&format!(" AND {column} {op} ${}", binds.len()));
            }
        }
        sql.push_str(&format!(
            " ORDER BY updated_ms DESC LIMIT ${}",
            binds.len() + 1
        ));
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(case_of).collect()
    }

    pub async fn timeline(&self, episode_id: &str) -> StoreResult<Vec<TimelineEntry>> {
        let rows = sqlx::query(
            "SELECT id, phase, reason, received_ms FROM alerts WHERE episode_id = $1 ORDER BY id",
        )
        .bind(episode_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TimelineEntry {
                    id: r.try_get("id")?,
                    phase: r.try_get("phase")?,
                    reason: r.try_get("reason")?,
                    received_ms: r.try_get("received_ms")?,
                })
            })
            .collect()
    }

    /// Records an operator's decision; the case as it is now, or `None` for no such case.
    pub async fn decide(
        &self,
        episode_id: &str,
        decision: Decision,
        operator: &str,
        now_ms: i64,
    ) -> StoreResult<Option<(Case, String)>> {
        let Some((mut case, broker)) = self.case(episode_id).await? else {
            return Ok(None);
        };
        case.decision = Some(decision);
        case.operator = Some(operator.to_string());
        case.decided_ms = Some(now_ms);
        sqlx::query(
            "UPDATE cases SET decision = $1, operator = $2, decided_ms = $3, state = $4, \
             updated_ms = $5, dispatched_ms = CASE WHEN $7 THEN COALESCE(dispatched_ms, $3) \
             ELSE dispatched_ms END WHERE episode_id = $6",
        )
        .bind(decision.as_str())
        .bind(operator)
        .bind(now_ms)
        .bind(case.state().as_str())
        .bind(now_ms)
        .bind(episode_id)
        .bind(decision == Decision::Dispatch)
        .execute(&self.pool)
        .await?;
        case.updated_ms = now_ms;
        Ok(Some((case, broker)))
    }

    /// Keeps the latest status or health message of a topic.
    pub async fn status(
        &self,
        topic: &str,
        broker: &str,
        payload: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO statuses (topic, broker, received_ms, payload) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (topic) DO UPDATE SET broker = excluded.broker, \
             received_ms = excluded.received_ms, payload = excluded.payload",
        )
        .bind(topic)
        .bind(broker)
        .bind(now_ms)
        .bind(payload)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Cases stored before the statistics columns existed get their day and time to clear.
    async fn backfill(&self) -> StoreResult<()> {
        let rows = sqlx::query(&format!("{SELECT_CASE} WHERE day IS NULL"))
            .fetch_all(&self.pool)
            .await?;
        for r in &rows {
            let c = case_of(r)?;
            sqlx::query("UPDATE cases SET day = $1, clear_s = $2 WHERE episode_id = $3")
                .bind(c.day())
                .bind(c.clear_seconds())
                .bind(&c.episode_id)
                .execute(&self.pool)
                .await?;
        }
        if !rows.is_empty() {
            tracing::info!(
                cases = rows.len(),
                "statistics columns filled for older cases"
            );
        }
        Ok(())
    }

    /// What statistics need of the cases raised from `from` to `to` (days `YYYY-MM-DD`,
    /// inclusive, either open).
    pub async fn stat_facts(
        &self,
        from: Option<&str>,
        to: Option<&str>,
    ) -> StoreResult<Vec<CaseFacts>> {
        let rows = sqlx::query(
            "SELECT day, grid_cell, type, dispatched_ms, decision, clear_s FROM cases \
             WHERE ($1 IS NULL OR day >= $1) AND ($2 IS NULL OR day <= $2)",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let decision: Option<String> = r.try_get("decision")?;
                let dispatched: Option<i64> = r.try_get("dispatched_ms")?;
                Ok(CaseFacts {
                    day: r.try_get::<Option<String>, _>("day")?.unwrap_or_default(),
                    grid_cell: r.try_get("grid_cell")?,
                    event_type: r.try_get("type")?,
                    dispatched: dispatched.is_some(),
                    decision: decision.as_deref().and_then(Decision::parse),
                    clear_s: r.try_get("clear_s")?,
                })
            })
            .collect()
    }

    /// The snapshot (alert id) of a camera's most recent case.
    pub async fn latest_snapshot_of(&self, camera_id: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query(
            "SELECT first_alert FROM cases WHERE camera_id = $1 ORDER BY updated_ms DESC LIMIT 1",
        )
        .bind(camera_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("first_alert")).transpose()?)
    }

    /// Every stored status and health message.
    pub async fn statuses(&self) -> StoreResult<Vec<StatusMessage>> {
        let rows = sqlx::query("SELECT topic, broker, received_ms, payload FROM statuses")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StatusMessage {
                    topic: r.try_get("topic")?,
                    broker: r.try_get("broker")?,
                    received_ms: r.try_get("received_ms")?,
                    payload: r.try_get("payload")?,
                })
            })
            .collect()
    }

    pub async fn count_cases(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM cases")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

const SELECT_CASE: &str = "SELECT episode_id, first_alert, end_alert, end_reason, decision, \
     operator, decided_ms, messages, received_ms, updated_ms, last_alert, broker FROM cases";

fn case_of(r: &AnyRow) -> StoreResult<Case> {
    let episode_id: String = r.try_get("episode_id")?;
    let corrupt = |cause: String| StoreError::Corrupt {
        episode: episode_id.clone(),
        cause,
    };
    let last: String = r.try_get("last_alert")?;
    let last: Alert = serde_json::from_str(&last).map_err(|e| corrupt(e.to_string()))?;
    let end_reason: Option<String> = r.try_get("end_reason")?;
    let end_reason = end_reason
        .map(|s| {
            serde_json::from_value::<Reason>(serde_json::Value::String(s))
                .map_err(|e| corrupt(e.to_string()))
        })
        .transpose()?;
    let decision: Option<String> = r.try_get("decision")?;
    let decision = decision
        .map(|s| Decision::parse(&s).ok_or_else(|| corrupt(format!("decision '{s}'"))))
        .transpose()?;
    Ok(Case {
        episode_id: episode_id.clone(),
        last,
        first_alert: r.try_get("first_alert")?,
        end_alert: r.try_get("end_alert")?,
        end_reason,
        decision,
        operator: r.try_get("operator")?,
        decided_ms: r.try_get("decided_ms")?,
        messages: r.try_get("messages")?,
        received_ms: r.try_get("received_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}
