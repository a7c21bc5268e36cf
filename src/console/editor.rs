//! The zone editor's pages: the calibration files of the configured folder, and per camera its
//! reference view (the calibration's reference frame, else the camera's latest snapshot) with
//! its zones and ground grid, edited in the browser (draw, move, delete polygons; type and
//! parameters). A save is checked by the same parser as `streetwatch check`, refused with the
//! zone and field named, refused when the file changed since the page loaded, and written
//! atomically in the folder; nothing is written anywhere else.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use axum_extra::extract::cookie::CookieJar;
use maud::{html, PreEscaped};

use super::web::{csrf, csrf_matches, error, page, App};
use super::zones::{self, ZoneEdit, EDITABLE};
use crate::calibration::{Calibration, ZoneType};

/// Most calibration files listed.
const MAX_FILES: usize = 500;

/// A calibration file of the folder, by its plain name (`cam-1.toml`): never a path, a hidden
/// file or a link out of the folder.
fn calibration_file(dir: &Path, name: &str) -> Option<PathBuf> {
    if !crate::ident::is_plain(name) || !name.ends_with(".toml") {
        return None;
    }
    let p = dir.join(name);
    let real = p.canonicalize().ok()?;
    (real.is_file() && real.parent()? == dir.canonicalize().ok()?).then_some(p)
}

/// The zone editor's folder, or the page that says there is none.
fn folder(app: &App) -> Option<&Path> {
    app.calibrations.as_deref()
}

fn no_folder() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no calibration folder configured (calibrations = \"…\" in console.toml)",
    )
}

pub async fn list(State(app): State<Arc<App>>) -> Response {
    let Some(dir) = folder(&app).map(Path::to_path_buf) else {
        return no_folder();
    };
    let mut files: Vec<(String, Result<Calibration, String>)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| calibration_file(&dir, n).is_some())
            .collect();
        names.sort();
        for n in names.into_iter().take(MAX_FILES) {
            let c = Calibration::load(&dir.join(&n)).map_err(|e| e.to_string());
            files.push((n, c));
        }
    }
    let body = html! {
        h1 { "zones 区域" }
        p { "Calibration files in " code { (dir.display()) } ". Pick a camera to draw its zones." }
        table id="calibrations" {
            thead { tr { th { "file 文件" } th { "camera 摄像头" } th { "site 站点" } th { "zones 区域" } } }
            tbody {
                @for (name, c) in &files {
                    tr {
                        td { a href={"/zones/" (name)} { (name) } }
                        @match c {
                            Ok(c) => { td { (c.camera_id) } td { (c.site) } td { (c.zones.len()) } }
                            Err(e) => { td colspan="3" class="view-bad" { (e) } }
                        }
                    }
                }
            }
        }
    };
    Html(page("zones 区域", body).into_string()).into_response()
}

/// The editor's start: the file's zones (as set in it), its frame size and ground grid.
#[derive(serde::Serialize)]
struct EditorData<'a> {
    file: &'a str,
    width: u32,
    height: u32,
    csrf: &'a str,
    base: String,
    types: Vec<&'static str>,
    editable: Vec<&'static str>,
    zones: Vec<ZoneEdit>,
    grid: Vec<Vec<[f32; 2]>>,
}

const TYPES: [ZoneType; 6] = [
    ZoneType::NoVending,
    ZoneType::Storefront,
    ZoneType::NoParking,
    ZoneType::BikeParking,
    ZoneType::Walkway,
    ZoneType::SmokeWatch,
];

/// JSON for a `<script type="application/json">`: no `<` that could close it.
fn script_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
}

pub async fn edit(
    State(app): State<Arc<App>>,
    UrlPath(file): UrlPath<String>,
    jar: CookieJar,
) -> Response {
    let Some(dir) = folder(&app) else {
        return no_folder();
    };
    let Some(path) = calibration_file(dir, &file) else {
        return error(StatusCode::NOT_FOUND, "no such calibration file");
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let zones = match zones::zones_of(&text) {
        Ok(z) => z,
        Err(e) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("{}: {e}", path.display()),
            )
        }
    };
    // A file broken by hand still opens (its fields as they are); its error is shown.
    let parsed = Calibration::parse(&path, &text);
    let (width, height, grid, problem, camera) = match &parsed {
        Ok(c) => (
            c.frame_width,
            c.frame_height,
            zones::ground_grid(c),
            None,
            c.camera_id.clone(),
        ),
        Err(e) => (1280, 720, Vec::new(), Some(e.to_string()), file.clone()),
    };
    let (jar, token) = csrf(jar, app.auth.secure_cookies);
    let data = EditorData {
        file: &file,
        width,
        height,
        csrf: &token,
        base: crate::digest::sha256_bytes(text.as_bytes()),
        types: TYPES.iter().map(|t| t.as_str()).collect(),
        editable: EDITABLE.iter().map(|(k, _)| *k).collect(),
        zones,
        grid,
    };
    let body = html! {
        h1 { "zones 区域 · " (camera) " " small { "(" (file) ")" } }
        @if let Some(p) = &problem { p id="problem" class="view-bad" { "The file does not check now 文件有误: " (p) } }
        div id="editor" {
            div id="view" style={"aspect-ratio:" (width) "/" (height)} {
                img id="frame" alt="" src={"/zones/" (file) "/frame.jpg"} onerror="this.style.visibility='hidden'";
                svg id="canvas" xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (width) " " (height)} preserveAspectRatio="none" {
                    g id="grid" {
                        @for line in &data.grid {
                            polyline points=(line.iter().map(|p| format!("{:.1},{:.1}", p[0], p[1])).collect::<Vec<_>>().join(" ")) {}
                        }
                    }
                    g id="zones" {}
                }
            }
            div id="panel" {
                p {
                    button type="button" id="new-zone" { "new zone 新建区域" }
                    " "
                    button type="button" id="finish-zone" disabled { "finish 完成" }
                }
                p class="hint" { "Draw: new zone, click the corners, finish. Drag a corner or a zone to move it; shift-click a corner to remove it. The grid is 1 m on the ground. 拖动角点或区域以移动。" }
                ol id="zone-list" {}
                div id="zone-form" {
                    label { "name 名称 " input id="f-name"; } span class="err" id="err-name" {} br;
                    label { "type 类型 " select id="f-type" { @for t in &data.types { option value=(t) { (t) } } } } span class="err" id="err-type" {} br;
                    span class="err" id="err-polygon" {}
                    @for k in &data.editable {
                        label { (k) " " input id={"f-" (k)} data-param=(k) placeholder="default 默认"; } span class="err" id={"err-" (k)} {} br;
                    }
                    button type="button" id="delete-zone" { "delete zone 删除区域" }
                }
                p { button type="button" id="save" { "save 保存" } }
                p id="status" {}
                p class="err" id="err-general" {}
            }
        }
        script type="application/json" id="zone-data" { (PreEscaped(script_json(&data))) }
        script { (PreEscaped(EDITOR_JS)) }
    };
    (jar, Html(page("zones 区域", body).into_string())).into_response()
}

/// The view the zones were drawn on, as JPEG.
pub async fn frame(State(app): State<Arc<App>>, UrlPath(file): UrlPath<String>) -> Response {
    let Some(dir) = folder(&app) else {
        return no_folder();
    };
    let Some(path) = calibration_file(dir, &file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(cal) = Calibration::load(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some((reference, at)) = cal.reference_frame.clone() {
        let jpeg = tokio::task::spawn_blocking(move || -> Option<Vec<u8>> {
            let img = crate::source::frame_at(&reference, at).ok()?;
            let mut buf = opencv::core::Vector::<u8>::new();
            opencv::imgcodecs::imencode(".jpg", &img, &mut buf, &opencv::core::Vector::new())
                .ok()?;
            Some(buf.iter().collect())
        })
        .await
        .ok()
        .flatten();
        if let Some(bytes) = jpeg {
            return ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response();
        }
    }
    // Else the camera's latest snapshot.
    if let Ok(Some(id)) = app.store.latest_snapshot_of(&cal.camera_id).await {
        if crate::ident::is_plain(&id) {
            if let Ok(bytes) =
                tokio::fs::read(app.data_dir.join("snapshots").join(format!("{id}.jpg"))).await
            {
                return ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response();
            }
        }
    }
    StatusCode::NOT_FOUND.into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveRequest {
    csrf: String,
    /// SHA-256 of the file as the page loaded it.
    base: String,
    zones: Vec<ZoneEdit>,
}

fn refuse(code: StatusCode, e: zones::EditError) -> Response {
    (code, Json(serde_json::json!({"ok": false, "error": e}))).into_response()
}

fn general(message: impl Into<String>) -> zones::EditError {
    zones::EditError {
        zone: None,
        field: None,
        message: message.into(),
    }
}

pub async fn save(
    State(app): State<Arc<App>>,
    UrlPath(file): UrlPath<String>,
    jar: CookieJar,
    Json(req): Json<SaveRequest>,
) -> Response {
    if !csrf_matches(&jar, &req.csrf) {
        return refuse(
            StatusCode::FORBIDDEN,
            general("the page's token does not match: reload the page"),
        );
    }
    let Some(dir) = folder(&app) else {
        return refuse(StatusCode::NOT_FOUND, general("no calibration folder"));
    };
    let Some(path) = calibration_file(dir, &file) else {
        return refuse(StatusCode::NOT_FOUND, general("no such calibration file"));
    };
    // One save at a time: the check against the loaded version and the write are one step.
    let _guard = app.zone_writes.lock().await;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, general(e.to_string())),
    };
    if crate::digest::sha256_bytes(text.as_bytes()) != req.base {
        return refuse(
            StatusCode::CONFLICT,
            general("the file changed since this page loaded it: reload the page (your drawing is not saved)"),
        );
    }
    let new_text = match zones::apply(&path, &text, &req.zones) {
        Ok(t) => t,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e),
    };
    if let Err(e) = write_atomic(&path, &new_text) {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            general(format!("{}: {e}", path.display())),
        );
    }
    tracing::info!(file = %path.display(), zones = req.zones.len(), "calibration saved by the zone editor");
    Json(serde_json::json!({
        "ok": true,
        "base": crate::digest::sha256_bytes(new_text.as_bytes()),
        "zones": zones::zones_of(&new_text).unwrap_or_default(),
    }))
    .into_response()
}

/// Writes beside the file and renames over it: a reader sees the old file or the new one.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("zones");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The editor in the page: an SVG over the view; zones as polygons with corner handles.
const EDITOR_JS: &str = r#"
const D = JSON.parse(document.getElementById('zone-data').textContent);
let zones = D.zones, sel = zones.length ? 0 : -1, drawing = null, drag = null, base = D.base;
const NS = 'http://www.w3.org/2000/svg', svg = document.getElementById('canvas');
const $ = id => document.getElementById(id);
function pt(ev) {
  const p = svg.createSVGPoint(); p.x = ev.clientX; p.y = ev.clientY;
  const q = p.matrixTransform(svg.getScreenCTM().inverse());
  return [Math.round(Math.min(D.width, Math.max(0, q.x))), Math.round(Math.min(D.height, Math.max(0, q.y)))];
}
function el(name, attrs) { const e = document.createElementNS(NS, name); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; }
function render() {
  const g = $('zones'); g.replaceChildren();
  zones.forEach((z, i) => {
    const poly = el('polygon', {points: z.polygon.map(p => p.join(',')).join(' '), class: 'zone t-' + z.type + (i === sel ? ' sel' : '')});
    poly.dataset.zone = i; g.appendChild(poly);
    const label = el('text', {x: z.polygon[0][0] + 4, y: z.polygon[0][1] + 16, class: 'zlabel'}); label.textContent = z.name; g.appendChild(label);
  });
  if (sel >= 0 && zones[sel]) zones[sel].polygon.forEach((p, j) => {
    const c = el('circle', {cx: p[0], cy: p[1], r: 7, class: 'handle'}); c.dataset.vertex = j; g.appendChild(c);
  });
  if (drawing) {
    g.appendChild(el('polyline', {points: drawing.map(p => p.join(',')).join(' '), class: 'drawing'}));
    drawing.forEach(p => g.appendChild(el('circle', {cx: p[0], cy: p[1], r: 5, class: 'handle'})));
  }
  const list = $('zone-list'); list.replaceChildren();
  zones.forEach((z, i) => {
    const li = document.createElement('li'); li.textContent = z.name + ' (' + z.type + ')';
    li.className = i === sel ? 'sel' : ''; li.onclick = () => { sel = i; render(); }; list.appendChild(li);
  });
  const z = zones[sel]; $('zone-form').style.display = z ? 'block' : 'none';
  if (z) {
    $('f-name').value = z.name; $('f-type').value = z.type;
    D.editable.forEach(k => { $('f-' + k).value = z.params[k] ?? ''; });
  }
  $('finish-zone').disabled = !drawing;
}
svg.addEventListener('mousedown', ev => {
  ev.preventDefault();
  const p = pt(ev), t = ev.target;
  if (drawing) { drawing.push(p); render(); return; }
  if (t.dataset.vertex !== undefined) {
    const j = +t.dataset.vertex, poly = zones[sel].polygon;
    if (ev.shiftKey) { if (poly.length > 3) poly.splice(j, 1); render(); return; }
    drag = {vertex: j}; return;
  }
  if (t.dataset.zone !== undefined) {
    sel = +t.dataset.zone; drag = {from: p, orig: zones[sel].polygon.map(q => q.slice())}; render();
  }
});
window.addEventListener('mousemove', ev => {
  if (!drag || !zones[sel]) return;
  const p = pt(ev), z = zones[sel];
  if (drag.vertex !== undefined) z.polygon[drag.vertex] = p;
  else z.polygon = drag.orig.map(q => [Math.min(D.width, Math.max(0, q[0] + p[0] - drag.from[0])), Math.min(D.height, Math.max(0, q[1] + p[1] - drag.from[1]))]);
  render();
});
window.addEventListener('mouseup', () => { drag = null; });
$('new-zone').onclick = () => { drawing = []; $('status').textContent = 'click the corners, then finish 点击各角点后完成'; render(); };
$('finish-zone').onclick = () => {
  if (!drawing || drawing.length < 3) { $('status').textContent = 'a zone needs three corners 至少三个角点'; return; }
  let n = zones.length + 1; while (zones.some(z => z.name === 'zone-' + n)) n++;
  zones.push({orig: null, name: 'zone-' + n, type: D.types[0], polygon: drawing, params: {}});
  sel = zones.length - 1; drawing = null; $('status').textContent = ''; render();
};
$('delete-zone').onclick = () => { if (sel >= 0) { zones.splice(sel, 1); sel = zones.length ? 0 : -1; render(); } };
$('f-name').oninput = e => { zones[sel].name = e.target.value; render(); };
$('f-type').onchange = e => { zones[sel].type = e.target.value; render(); };
D.editable.forEach(k => { $('f-' + k).oninput = e => { zones[sel].params[k] = e.target.value; }; });
$('save').onclick = async () => {
  document.querySelectorAll('.err').forEach(e => e.textContent = '');
  $('status').textContent = 'saving 保存中…';
  const r = await fetch(location.pathname, {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({csrf: D.csrf, base, zones})});
  let j = null; try { j = await r.json(); } catch (e) {}
  if (j && j.ok) { base = j.base; zones = j.zones; if (sel >= zones.length) sel = zones.length - 1; $('status').textContent = 'saved 已保存'; render(); return; }
  const e = j ? j.error : {message: 'HTTP ' + r.status};
  $('status').textContent = 'not saved 未保存';
  if (e.zone !== null && e.zone !== undefined) sel = e.zone;
  render();
  const slot = e.field && $('err-' + e.field);
  (slot || $('err-general')).textContent = e.message;
};
render();
"#;
