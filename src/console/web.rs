//! The console's web UI on axum: the live case list (filters; updated through server-sent
//! events without a reload), the case page (snapshots, measures, timeline, decisions) and the
//! decisions themselves, published back to the edge on the feedback topic. Every string from
//! MQTT is escaped by the templates (maud); every form carries a CSRF token that must match the
//! `HttpOnly`, `SameSite=Strict` cookie set with the page.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use maud::{html, Markup, DOCTYPE};
use tokio::sync::broadcast;
use tokio_stream::StreamExt;

use super::auth::{Auth, Refusal, SignedIn};
use super::case::{subtype_label, type_label, Case, Decision, State as CaseState};
use super::ingest::{now_ms, Feedback, IngestStats};
use super::store::{Filter, Store};
use crate::violation::ViolationType;

pub struct App {
    pub store: Arc<Store>,
    pub feedback: Feedback,
    pub updates: broadcast::Sender<String>,
    pub data_dir: PathBuf,
    pub stats: Arc<IngestStats>,
    /// The zone editor's folder.
    pub calibrations: Option<PathBuf>,
    /// Zone saves one at a time.
    pub zone_writes: tokio::sync::Mutex<()>,
    pub auth: Auth,
}

const CSRF: &str = "sw_csrf";
const SESSION: &str = "sw_session";
/// Most cases on one page.
const PAGE: i64 = 200;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(list))
        .route("/rows", get(rows))
        .route("/events", get(events))
        .route("/cases/{id}", get(case_page))
        .route("/cases/{id}/decide", post(decide))
        .route("/snapshots/{file}", get(snapshot))
        .route("/clips/{file}", get(clip))
        .route("/cameras", get(cameras))
        .route("/stats", get(stats_page))
        .route("/stats.csv", get(stats_csv))
        .route("/zones", get(super::editor::list))
        .route(
            "/zones/{file}",
            get(super::editor::edit).post(super::editor::save),
        )
        .route("/zones/{file}/frame.jpg", get(super::editor::frame))
        .route("/healthz", get(healthz))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            require_login,
        ))
        .with_state(app)
}

/// With operator accounts, every page but the login and `/healthz` needs a session: a page
/// request goes to the login, anything else is refused (401). The session's operator is handed
/// to the handlers.
async fn require_login(
    State(app): State<Arc<App>>,
    jar: CookieJar,
    mut req: Request,
    next: Next,
) -> Response {
    if !app.auth.enabled() || matches!(req.uri().path(), "/login" | "/healthz") {
        return next.run(req).await;
    }
    match jar
        .get(SESSION)
        .and_then(|c| app.auth.session(c.value(), now_ms()))
    {
        Some(who) => {
            req.extensions_mut().insert(who);
            next.run(req).await
        }
        None if req.method() == Method::GET => Redirect::to("/login").into_response(),
        None => error(StatusCode::UNAUTHORIZED, "sign in first: /login"),
    }
}

fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .build()
}

fn login_markup(token: &str, message: Option<&str>) -> String {
    let body = html! {
        h1 { "sign in 登录" }
        @if let Some(m) = message { p id="login-error" class="err" { (m) } }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(token);
            p { label { "operator 操作员 " input name="name" id="login-name" autocomplete="username" required; } }
            p { label { "password 密码 " input type="password" name="password" id="login-password" autocomplete="current-password" required; } }
            button type="submit" id="login-submit" { "sign in 登录" }
        }
    };
    page("sign in 登录", body).into_string()
}

async fn login_page(State(app): State<Arc<App>>, jar: CookieJar) -> Response {
    let (jar, token) = csrf(jar, app.auth.secure_cookies);
    (jar, Html(login_markup(&token, None))).into_response()
}

#[derive(serde::Deserialize)]
struct LoginForm {
    csrf: String,
    name: String,
    password: String,
}

async fn login(
    State(app): State<Arc<App>>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Some(refused) = refuse_without_token(&jar, &form.csrf) {
        return refused;
    }
    let name = form.name.clone();
    let checker = app.clone();
    // Argon2 takes tens of milliseconds of CPU: off the async threads.
    let result = tokio::task::spawn_blocking(move || {
        checker.auth.login(&form.name, &form.password, now_ms())
    })
    .await
    .unwrap_or(Err(Refusal::Wrong));
    match result {
        Ok(session) => {
            tracing::info!(operator = %name.trim(), "operator signed in");
            let jar = jar.add(cookie(SESSION, session, app.auth.secure_cookies));
            (jar, Redirect::to("/")).into_response()
        }
        Err(r) => {
            let (code, msg) = match r {
                Refusal::Wrong => (StatusCode::UNAUTHORIZED, "wrong operator or password 操作员或密码错误"),
                Refusal::Locked => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many failed sign-ins for this operator: wait a minute 失败次数过多，请稍候",
                ),
            };
            tracing::warn!(operator = %name.trim(), refusal = ?r, "sign-in refused");
            (code, Html(login_markup(&form.csrf, Some(msg)))).into_response()
        }
    }
}

#[derive(serde::Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout(
    State(app): State<Arc<App>>,
    jar: CookieJar,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some(refused) = refuse_without_token(&jar, &form.csrf) {
        return refused;
    }
    if let Some(c) = jar.get(SESSION) {
        app.auth.logout(c.value());
    }
    let jar = jar.remove(Cookie::build(SESSION).path("/"));
    (jar, Redirect::to("/login")).into_response()
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    if crate::digest::random_bytes(&mut b).is_err() {
        // Never a fixed token: fall back to the clock and the process id mixed by SHA-256.
        let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        b.copy_from_slice(&crate::digest::sha256_parts(seed.as_bytes(), &[])[..32]);
    }
    crate::signature::to_hex(&b)
}

/// A form whose token is not its page's cookie's is refused (403).
fn refuse_without_token(jar: &CookieJar, token: &str) -> Option<Response> {
    (!csrf_matches(jar, token)).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "the form's token does not match: reload the page",
        )
    })
}

/// Whether a form's token is the one of the page's cookie.
pub(super) fn csrf_matches(jar: &CookieJar, token: &str) -> bool {
    token.len() == 64 && jar.get(CSRF).is_some_and(|c| c.value() == token)
}

/// The page's CSRF token: the cookie's, or a new one set with the response.
pub(super) fn csrf(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    if let Some(c) = jar.get(CSRF) {
        if c.value().len() == 64 {
            let v = c.value().to_string();
            return (jar, v);
        }
    }
    let token = random_token();
    (jar.add(cookie(CSRF, token.clone(), secure)), token)
}

pub(super) fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { (title) " · streetwatch" }
                style { (STYLE) }
            }
            body {
                header {
                    a href="/" { "streetwatch · 城管案件 cases" }
                    nav {
                        a href="/" { "cases 案件" }
                        a href="/cameras" { "cameras 摄像头" }
                        a href="/stats" { "statistics 统计" }
                        a href="/zones" { "zones 区域" }
                    }
                }
                (body)
            }
        }
    }
}

const STYLE: &str = "body{font-family:'WenQuanYi Micro Hei',sans-serif;margin:1em;background:#f6f7f9}\
header a{font-weight:bold;text-decoration:none;color:#123}nav{display:inline;margin-left:2em}nav a{font-weight:normal;margin-right:1em}\
.cam-online{color:#070}.cam-reconnecting{color:#a60}.cam-offline,.cam-silent,.view-bad{color:#b00;font-weight:bold}\
table{border-collapse:collapse;width:100%;background:#fff}td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left}\
.state-open{color:#b00}.state-cleared_on_camera{color:#a60}.state-dismissed{color:#777}.state-dispatched{color:#06a}\
img{max-width:48%;margin:.2em;border:1px solid #ccc}video{max-width:96%}\
#editor{display:flex;gap:1em;align-items:flex-start}#view{position:relative;flex:3;background:#333}\
#view img,#view svg{position:absolute;left:0;top:0;width:100%;height:100%;max-width:none;margin:0;border:0;user-select:none}\
#panel{flex:1;min-width:18em}#grid polyline{fill:none;stroke:#0ff;stroke-opacity:.45;stroke-width:1}\
.zone{fill:#f80;fill-opacity:.25;stroke:#f80;stroke-width:2;cursor:move}.zone.sel{fill:#08f;stroke:#08f;fill-opacity:.3}\
.handle{fill:#fff;stroke:#08f;stroke-width:2;cursor:pointer}.drawing{fill:none;stroke:#0f0;stroke-width:2}\
.zlabel{fill:#fff;font-size:16px;paint-order:stroke;stroke:#000;stroke-width:3px;pointer-events:none}\
#zone-list li.sel{font-weight:bold}.err{color:#b00}.hint{color:#555;font-size:90%}\
form.decide{display:inline-block;margin-right:1em}";

fn state_cell(s: CaseState) -> Markup {
    let (en, zh) = s.label();
    html! { span class={"state-" (s.as_str())} { (zh) " " (en) } }
}

fn type_cell(t: ViolationType) -> Markup {
    let (en, zh) = type_label(t);
    html! { (zh) " " (en) }
}

fn subtype_cell(s: crate::violation::Subtype) -> Markup {
    let (en, zh) = subtype_label(s);
    html! { (zh) " " (en) }
}

fn when(ms: i64) -> String {
    crate::time::format_rfc3339(ms as f64 / 1000.0, &crate::time::TimeZone::UTC)
}

fn rows_markup(cases: &[Case]) -> Markup {
    html! {
        @for c in cases {
            tr data-episode=(c.episode_id) {
                // The camera's time when it is known, else when the console received it.
                td { a href={"/cases/" (c.episode_id)} { (c.last.first_seen_wall.clone().unwrap_or_else(|| when(c.received_ms))) } }
                td { (type_cell(c.last.event_type)) }
                td { (subtype_cell(c.last.subtype)) }
                td { (c.last.site) " / " (c.last.camera_id) }
                td { (c.last.grid_cell) }
                td { (c.last.zone) }
                td { (c.last.measures.count) }
                td { (state_cell(c.state())) }
            }
        }
    }
}

async fn list(
    State(app): State<Arc<App>>,
    Query(filter): Query<Filter>,
    who: Option<Extension<SignedIn>>,
    jar: CookieJar,
) -> Response {
    if let Err(e) = day(&filter.from, "from").and(day(&filter.to, "to")) {
        return error(StatusCode::BAD_REQUEST, &e);
    }
    let cases = match app.store.cases(&filter, PAGE).await {
        Ok(c) => c,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let (jar, token) = csrf(jar, app.auth.secure_cookies);
    let refused = app.stats.refused.load(Ordering::Relaxed);
    let sel = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = html! {
        @if let Some(Extension(w)) = &who {
            form method="post" action="/logout" id="logout" {
                "signed in as 操作员 " strong { (w.label) } " "
                input type="hidden" name="csrf" value=(token);
                button type="submit" { "sign out 退出" }
            }
        }
        form method="get" action="/" id="filters" {
            input name="site" placeholder="site 站点" value=(sel(&filter.site));
            input name="camera" placeholder="camera 摄像头" value=(sel(&filter.camera));
            input name="grid_cell" placeholder="grid cell 网格" value=(sel(&filter.grid_cell));
            select name="type" {
                option value="" { "type 类型" }
                @for t in [ViolationType::Vending, ViolationType::Parking, ViolationType::Smoke] {
                    @let v = t.to_string();
                    option value=(v) selected[filter.event_type.as_deref() == Some(v.as_str())] { (type_cell(t)) }
                }
            }
            select name="state" {
                option value="" { "state 状态" }
                @for s in CaseState::ALL {
                    option value=(s.as_str()) selected[filter.state.as_deref() == Some(s.as_str())] { (s.label().1) " " (s.label().0) }
                }
            }
            " from 从 " input type="date" name="from" value=(sel(&filter.from));
            " to 至 " input type="date" name="to" value=(sel(&filter.to));
            " "
            button type="submit" { "filter 筛选" }
        }
        table {
            thead { tr { th { "first seen 发现" } th { "type 类型" } th { "kind 子类" } th { "camera 摄像头" } th { "grid 网格" } th { "zone 区域" } th { "count 数量" } th { "state 状态" } } }
            tbody id="cases" { (rows_markup(&cases)) }
        }
        p id="refused" { "messages refused 拒收: " (refused) }
        script { (maud::PreEscaped(LIVE_JS)) }
    };
    (jar, Html(page("cases 案件", body).into_string())).into_response()
}

/// On every case update, the rows are fetched again with the page's filters.
const LIVE_JS: &str = "const es=new EventSource('/events');\
es.onmessage=async()=>{const r=await fetch('/rows'+location.search);\
if(r.ok){document.getElementById('cases').innerHTML=await r.text();}};";

async fn rows(State(app): State<Arc<App>>, Query(filter): Query<Filter>) -> Response {
    if let Err(e) = day(&filter.from, "from").and(day(&filter.to, "to")) {
        return error(StatusCode::BAD_REQUEST, &e);
    }
    match app.store.cases(&filter, PAGE).await {
        Ok(c) => Html(rows_markup(&c).into_string()).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn events(
    State(app): State<Arc<App>>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let rx = app.updates.subscribe();
    let stream = tokio_stream::wrappers::BroadcastStream::new(rx).map(|m| {
        // A lagging client gets one "changed" event for everything it missed.
        let id = m.unwrap_or_default();
        Ok(Event::default().event("message").data(id))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

pub(super) fn error(code: StatusCode, msg: &str) -> Response {
    (
        code,
        Html(page("error", html! { p { (msg) } }).into_string()),
    )
        .into_response()
}

async fn case_page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    who: Option<Extension<SignedIn>>,
    jar: CookieJar,
) -> Response {
    if crate::ident::check(&id).is_err() {
        return error(StatusCode::BAD_REQUEST, "not a case id");
    }
    let (c, _) = match app.store.case(&id).await {
        Ok(Some(c)) => c,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such case"),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let timeline = app.store.timeline(&id).await.unwrap_or_default();
    // The episode's clip, named by its start alert, once the edge has sent it.
    let has_clip = tokio::fs::metadata(
        app.data_dir
            .join("clips")
            .join(format!("{}.webm", c.first_alert)),
    )
    .await
    .is_ok();
    let (jar, token) = csrf(jar, app.auth.secure_cookies);
    let a = &c.last;
    let m = &a.measures;
    let body = html! {
        h1 { (type_cell(a.event_type)) " · " (subtype_cell(a.subtype)) }
        p id="state" { (state_cell(c.state())) }
        table {
            tr { th { "episode 事件" } td { (c.episode_id) } }
            tr { th { "dispatch code 事件编码" } td { @if let Some(d) = &a.dispatch { (d.code) " " (d.name) } } }
            tr { th { "site / camera 站点 / 摄像头" } td { (a.site) " / " (a.camera_id) } }
            tr { th { "grid cell 网格" } td { (a.grid_cell) } }
            tr { th { "zone 区域" } td { (a.zone) } }
            tr { th { "GPS" } td { @if let Some([lat, lon]) = a.gps { (lat) ", " (lon) } } }
            tr { th { "first seen 发现" } td { (a.first_seen_wall.as_deref().unwrap_or("")) } }
            tr { th { "last seen 最后出现" } td { (a.last_seen_wall.as_deref().unwrap_or("")) } }
            tr { th { "duration 持续" } td { (format!("{:.0} s", a.duration_s)) } }
            tr { th { "count 数量" } td { (m.count) } }
            tr { th { "area 面积" } td { @if let Some(v) = m.occupied_area_m2 { (format!("{v:.1} m²")) } } }
            tr { th { "clear width 通行宽度" } td { @if let Some(v) = m.clear_width_m { (format!("{v:.2} m")) } } }
            @if let Some(op) = &c.operator {
                tr { th { "decided by 处置人" } td { (op) " " (c.decided_ms.map(when).unwrap_or_default()) } }
            }
        }
        div class="snapshots" {
            img alt="start 开始" src={"/snapshots/" (c.first_alert) ".jpg"};
            @if let Some(end) = &c.end_alert { img alt="end 结束" src={"/snapshots/" (end) ".jpg"}; }
        }
        @if has_clip {
            h2 { "clip 视频" }
            video id="clip" controls muted preload="auto" src={"/clips/" (c.first_alert) ".webm"} {}
        } @else {
            p class="hint" id="no-clip" { "no clip yet 暂无视频 (the edge sends it after the episode's first seconds)" }
        }
        @for d in Decision::ALL {
            form class="decide" method="post" action={"/cases/" (c.episode_id) "/decide"} {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="decision" value=(d.as_str());
                @if who.is_none() {
                    input name="operator" id={"operator-" (d.as_str())} placeholder="operator 处置人" required;
                }
                button type="submit" id={"decide-" (d.as_str())} {
                    (match d { Decision::Dispatch => "dispatch 派遣", Decision::Dismiss => "dismiss as false alarm 误报", Decision::Close => "close 结案" })
                }
            }
        }
        @if let Some(Extension(w)) = &who { p class="hint" { "decisions are recorded as 处置人: " (w.label) } }
        h2 { "timeline 时间线" }
        ol id="timeline" {
            @for t in &timeline {
                li { (when(t.received_ms)) " " (t.phase) @if let Some(r) = &t.reason { " (" (r) ")" } " " (t.id) }
            }
        }
    };
    (jar, Html(page("case 案件", body).into_string())).into_response()
}

#[derive(serde::Deserialize)]
struct DecideForm {
    csrf: String,
    decision: String,
    /// Typed on a console without accounts; with accounts the session's operator decides.
    #[serde(default)]
    operator: String,
}

async fn decide(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    who: Option<Extension<SignedIn>>,
    jar: CookieJar,
    Form(form): Form<DecideForm>,
) -> Response {
    if let Some(refused) = refuse_without_token(&jar, &form.csrf) {
        return refused;
    }
    let Some(decision) = Decision::parse(&form.decision) else {
        return error(StatusCode::BAD_REQUEST, "no such decision");
    };
    let operator = match &who {
        Some(Extension(w)) => w.label.as_str(),
        None => form.operator.trim(),
    };
    if operator.is_empty()
        || operator.chars().count() > 64
        || operator.chars().any(char::is_control)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "an operator name (at most 64 characters) is needed",
        );
    }
    if crate::ident::check(&id).is_err() {
        return error(StatusCode::BAD_REQUEST, "not a case id");
    }
    let now = now_ms();
    let (case, broker) = match app.store.decide(&id, decision, operator, now).await {
        Ok(Some(c)) => c,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such case"),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let payload = serde_json::json!({
        "episode_id": case.episode_id,
        "decision": decision.as_str(),
        "operator": operator,
        "at": when(now),
        "camera_id": case.last.camera_id,
        "zone": case.last.zone,
        "type": case.last.event_type,
    })
    .to_string();
    if !app
        .feedback
        .send(&broker, &case.last.site, &case.last.camera_id, payload)
        .await
    {
        tracing::warn!(broker = %broker, episode = %case.episode_id, "the feedback could not be queued for its broker");
    }
    let _ = app.updates.send(case.episode_id.clone());
    Redirect::to(&format!("/cases/{id}")).into_response()
}

async fn clip(State(app): State<Arc<App>>, Path(file): Path<String>) -> Response {
    evidence(&app, "clips", &file, "webm", "video/webm").await
}

async fn snapshot(State(app): State<Arc<App>>, Path(file): Path<String>) -> Response {
    evidence(&app, "snapshots", &file, "jpg", "image/jpeg").await
}

/// An evidence file of the data folder (`<dir>/<plain id>.<ext>`); anything else is 404.
async fn evidence(
    app: &App,
    dir: &str,
    file: &str,
    ext: &str,
    content_type: &'static str,
) -> Response {
    let Some(id) = file.strip_suffix(ext).and_then(|s| s.strip_suffix('.')) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if crate::ident::check(id).is_err() {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(app.data_dir.join(dir).join(format!("{id}.{ext}"))).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// What the console holds and has refused: for monitoring (and the benchmark).
async fn healthz(State(app): State<Arc<App>>) -> Response {
    let cases = match app.store.count_cases().await {
        Ok(n) => n,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let st = &app.stats;
    axum::Json(serde_json::json!({
        "status": "ok",
        "cases": cases,
        "alerts_stored": st.alerts.load(Ordering::Relaxed),
        "duplicates": st.duplicates.load(Ordering::Relaxed),
        "snapshots": st.snapshots.load(Ordering::Relaxed),
        "clips": st.clips.load(Ordering::Relaxed),
        "refused": st.refused.load(Ordering::Relaxed),
        "broker_connections": st.connected.load(Ordering::Relaxed),
    }))
    .into_response()
}

/// A camera whose service has sent no health for this long is shown silent (the service's
/// default health interval is 10 s).
const STALE_MS: i64 = 60_000;

async fn cameras(State(app): State<Arc<App>>) -> Response {
    let msgs = match app.store.statuses().await {
        Ok(m) => m,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let now = now_ms();
    let rows = super::board::cameras(&msgs, now, STALE_MS);
    let opt = |v: Option<f64>, d: usize| v.map(|x| format!("{x:.d$}")).unwrap_or_default();
    let body = html! {
        // The board refreshes itself: statuses change every few seconds.
        meta http-equiv="refresh" content="5";
        h1 { "cameras 摄像头 (" (rows.len()) ")" }
        table id="cameras" {
            thead { tr { th { "site 站点" } th { "camera 摄像头" } th { "state 状态" } th { "view 画面" } th { "analysed fps 分析帧率" } th { "lag p99 延迟" } th { "reconnects 重连" } th { "outbox 待发" } th { "heard 最后消息" } th { "reason 原因" } } }
            tbody {
                @for r in &rows {
                    @let bad_view = matches!(r.view.as_str(), "moved" | "covered" | "blurred");
                    tr data-camera={(r.site) "/" (r.camera)} data-state=(r.state.as_str()) {
                        td { (r.site) }
                        td { (r.camera) }
                        td class={"cam-" (r.state.as_str())} { (r.state.label().1) " " (r.state.label().0) }
                        td class=[bad_view.then_some("view-bad")] {
                            (r.view) @if r.suspended { " · rules suspended 规则暂停" }
                        }
                        td { (opt(r.analysed_fps, 2)) }
                        td { @if let Some(l) = r.lag_ms_p99 { (format!("{l:.0} ms")) } }
                        td { (r.reconnects.map(|n| n.to_string()).unwrap_or_default()) }
                        td { (r.outbox_depth.map(|n| n.to_string()).unwrap_or_default()) }
                        td { (format!("{:.0} s ago", (now - r.heard_ms).max(0) as f64 / 1000.0)) }
                        td { (r.reason) }
                    }
                }
            }
        }
    };
    Html(page("cameras 摄像头", body).into_string()).into_response()
}

/// The statistics' period: days `YYYY-MM-DD`, inclusive, either open.
#[derive(Debug, Default, serde::Deserialize)]
struct Period {
    from: Option<String>,
    to: Option<String>,
}

impl Period {
    fn check(&self) -> std::result::Result<(Option<&str>, Option<&str>), String> {
        Ok((day(&self.from, "from")?, day(&self.to, "to")?))
    }
}

fn day<'a>(v: &'a Option<String>, name: &str) -> std::result::Result<Option<&'a str>, String> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(d) if jiff::civil::Date::strptime("%Y-%m-%d", d).is_ok() => Ok(Some(d)),
        Some(d) => Err(format!("{name}: '{d}' is not a day YYYY-MM-DD")),
    }
}

/// The period's days (checked) and what statistics need of its cases.
#[allow(clippy::result_large_err)]
async fn period_facts<'a>(
    app: &App,
    period: &'a Period,
) -> std::result::Result<
    (
        (Option<&'a str>, Option<&'a str>),
        Vec<super::stats::CaseFacts>,
    ),
    Response,
> {
    let (from, to) = period
        .check()
        .map_err(|e| error(StatusCode::BAD_REQUEST, &e))?;
    let facts = app
        .store
        .stat_facts(from, to)
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    Ok(((from, to), facts))
}

async fn stats_page(State(app): State<Arc<App>>, Query(period): Query<Period>) -> Response {
    let ((from, to), facts) = match period_facts(&app, &period).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let rows = super::stats::by_day_cell_type(&facts);
    let totals = super::stats::by_type(&facts);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("from", from.unwrap_or(""))
        .append_pair("to", to.unwrap_or(""))
        .finish();
    let type_name = |t: &str| {
        serde_json::from_value::<ViolationType>(serde_json::Value::String(t.to_string()))
            .map(|v| {
                let (en, zh) = type_label(v);
                format!("{zh} {en}")
            })
            .unwrap_or_else(|_| t.to_string())
    };
    let pct = |r: Option<f64>| r.map(|x| format!("{:.1} %", x * 100.0)).unwrap_or_default();
    let secs = |r: Option<f64>| r.map(|x| format!("{x:.0} s")).unwrap_or_default();
    let table = |rows: &[super::stats::StatRow], id: &str| {
        html! {
            table id=(id) {
                thead { tr { th { "day 日期" } th { "grid cell 网格" } th { "type 类型" } th { "raised 立案" } th { "dispatched 派遣" } th { "dismissed 误报" } th { "false-alarm rate 误报率" } th { "median time to clear 消除中位时长" } } }
                tbody {
                    @for r in rows {
                        tr {
                            td { (r.day) } td { (r.grid_cell) } td { (type_name(&r.event_type)) }
                            td { (r.raised) } td { (r.dispatched) } td { (r.dismissed) }
                            td { (pct(r.false_alarm_rate)) } td { (secs(r.median_clear_s)) }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        h1 { "statistics 统计" }
        form method="get" action="/stats" {
            "from 从 " input type="date" name="from" value=(from.unwrap_or(""));
            " to 至 " input type="date" name="to" value=(to.unwrap_or(""));
            button type="submit" { "show 查询" }
            " " a id="csv" href={"/stats.csv?" (query)} { "CSV" }
        }
        p { "False-alarm rate: dismissed among cases with a decision. Time to clear: first seen to seen clear on camera. 误报率 = 误报 / 已处置。" }
        h2 { "by type 按类型" }
        (table(&totals, "totals"))
        h2 { "by day, grid cell and type 按日期、网格、类型" }
        (table(&rows, "stats"))
    };
    Html(page("statistics 统计", body).into_string()).into_response()
}

async fn stats_csv(State(app): State<Arc<App>>, Query(period): Query<Period>) -> Response {
    let (_, facts) = match period_facts(&app, &period).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    match super::stats::to_csv(&super::stats::by_day_cell_type(&facts)) {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"streetwatch-statistics.csv\"",
                ),
            ],
            text,
        )
            .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}
