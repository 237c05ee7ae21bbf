//! The watch-floor console (`hotline console`) in a real browser: headless Chromium from
//! Debian's packages driven over WebDriver (chromedriver, on loopback), against real `hotline
//! run` and `hotline console` processes. S1 through two consoles with a second officer's
//! release; every action with the keyboard alone; S3 with its deadline ageing amber then red, the alarm, a keyboard-only late
//! acknowledgement and a dead node; the security of the forms over raw HTTP; an axe-core check.
//!
//! Without Chromium and chromedriver the browser tests say so and stop, unless
//! HOTLINE_REQUIRE_BROWSER is set (CI sets it): then their absence fails. The axe-core script
//! comes from the npm registry's package, fetched by `.ci/run`, at HOTLINE_AXE.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hotline_proto::Precedence;
use hotline_testnet::console::{self as web, Console};
use hotline_testnet::harness::{binary, Net};
use serde_json::{json, Value};

/// Both languages of the report, short heartbeats, FLASH with ten minutes to acknowledge.
const S1_POLICY: &str = r#"
heartbeat_interval_ms = 500
link_test_interval_ms = 1000
checkpoint_interval_ms = 1000
link_silence_ms = 3000
max_clock_skew_ms = 2000
retransmit_initial_ms = 100
retransmit_max_ms = 1000
required_languages = ["en", "zh"]
[flash]
receipt_ms = 5000
ack_ms = 600000
[immediate]
receipt_ms = 10000
ack_ms = 1800000
[priority]
receipt_ms = 30000
ack_ms = 10800000
[routine]
receipt_ms = 60000
ack_ms = 21600000
[[codebook]]
number = 7
word = "LANTERN"
meaning = [{ lang = "en", text = "Media attributed to your officials is fabricated; please deny it." }, { lang = "zh", text = "归于贵方官员的媒体内容系伪造，请予以否认。" }]
"#;

/// IMMEDIATE with 16 s to acknowledge (amber at 12.8 s), English only.
const S3_POLICY: &str = r#"
heartbeat_interval_ms = 500
link_test_interval_ms = 1000
checkpoint_interval_ms = 1000
link_silence_ms = 3000
max_clock_skew_ms = 2000
retransmit_initial_ms = 100
retransmit_max_ms = 1000
required_languages = ["en"]
[flash]
receipt_ms = 5000
ack_ms = 12000
[immediate]
receipt_ms = 5000
ack_ms = 16000
[priority]
receipt_ms = 30000
ack_ms = 10800000
[routine]
receipt_ms = 60000
ack_ms = 21600000
"#;

fn free_tcp_port() -> u16 {
    web::free_tcp_port().unwrap()
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `hotline console` for node `name` of `net`, once it reaches its node.
fn start_console(net: &Net, name: &str) -> Console {
    let log = net.dir.path().join(format!("{name}-console.log"));
    Console::start(&binary(), &net.home(name), 0, &log).unwrap()
}

/// One HTTP/1.1 request: (status, head, body), status 0 if the console cannot be reached.
fn http(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
    match web::request(base, method, path, headers, body) {
        Ok(r) => (r.status, r.head, r.body),
        Err(_) => (0, String::new(), String::new()),
    }
}

/// One log-in attempt as a browser makes it: (status, head, body).
fn attempt_login(console: &Console, call_sign: &str, password: &str) -> (u16, String, String) {
    let r = web::attempt_login(&console.url, call_sign, password).unwrap();
    (r.status, r.head, r.body)
}

/// Logs in over raw HTTP, checking the session cookie's flags: the cookie (`name=value`) and
/// the session's CSRF token.
fn http_login(console: &Console, call_sign: &str, password: &str) -> (String, String) {
    let reply = web::attempt_login(&console.url, call_sign, password).unwrap();
    assert_eq!(reply.status, 303, "log-in of {call_sign}: {}", reply.head);
    let cookie = reply.set_cookie("hotline_session").unwrap();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    let cookie = cookie.split(';').next().unwrap().to_string();
    let board = web::get(&console.url, "/", &cookie).unwrap();
    (cookie, web::csrf_in(&board.body).unwrap())
}

/// A form posted without an `Origin` header (as older clients do; the console then relies on
/// the CSRF token alone).
fn post(console: &Console, path: &str, cookie: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if !cookie.is_empty() {
        headers.push(("Cookie", cookie));
    }
    http(&console.url, "POST", path, &headers, &web::form(fields))
}

// ---- the browser ----

/// Chromium and chromedriver, if installed.
fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names.iter().map(PathBuf::from).find(|p| p.exists()).or_else(|| {
            names.iter().find_map(|n| {
                let out = Command::new("sh").args(["-c", &format!("command -v {n}")]).output().ok()?;
                let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
                (!path.is_empty()).then(|| PathBuf::from(path))
            })
        })
    };
    let chromium = find(&["/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"])?;
    let driver = find(&["/usr/bin/chromedriver", "chromedriver"])?;
    Some((chromium, driver))
}

/// Chromedriver, and the programs; `None` (with a notice) where they are not installed.
fn driver() -> Option<(Running, String, PathBuf)> {
    let Some((chromium, chromedriver)) = browser_programs() else {
        assert!(
            std::env::var_os("HOTLINE_REQUIRE_BROWSER").is_none(),
            "HOTLINE_REQUIRE_BROWSER is set but chromium or chromedriver is not installed (apt-get install chromium chromium-driver)"
        );
        eprintln!("NOTICE: no Chromium or chromedriver (apt-get install chromium chromium-driver): the console was not tested in a browser");
        return None;
    };
    let port = free_tcp_port();
    // Held before it is waited for: a chromedriver that does not answer is killed with the test.
    let child = Running(
        Command::new(chromedriver)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http(&url, "GET", "/status", &[], "").0 != 200 {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((child, url, chromium))
}

/// A new headless Chromium with its own profile.
async fn open(driver: &str, chromium: &Path, profile: &Path, lang: &str) -> Client {
    let mut caps = serde_json::Map::new();
    let args = vec![
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1280,1400".into(),
        format!("--lang={lang}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    caps.insert("goog:chromeOptions".into(), json!({ "binary": chromium, "args": args }));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a Chromium session")
}

/// Waits until the script `condition` (a JS expression) is true on the page.
async fn until(c: &Client, what: &str, condition: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let v = c.execute(&format!("return !!({condition});"), vec![]).await.unwrap_or(Value::Bool(false));
        if v == Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let text = c
                .execute("return document.body ? document.body.innerText : ''", vec![])
                .await
                .unwrap_or_default();
            let state = c
                .execute("return [document.activeElement && document.activeElement.outerHTML.slice(0, 200), window.hotline && window.hotline.errors];", vec![])
                .await
                .unwrap_or_default();
            panic!(
                "{what}: not within {limit:?} at {url} (focus, script errors: {state})\n{}",
                text.as_str().unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the board shows notice `id` among what I must acknowledge.
async fn until_card(c: &Client, what: &str, id: &str) {
    let card = format!("document.querySelector('.card-ack[data-notice=\"{id}\"]')");
    until(c, what, &card, Duration::from_secs(10)).await;
}

/// Waits until the page is a notice of `sender` (after a send or a release): its id.
async fn at_notice(c: &Client, what: &str, sender: &str) -> String {
    until(c, what, &format!("location.pathname.startsWith('/notice/{sender}/')"), Duration::from_secs(10))
        .await;
    js(c, "return location.pathname.slice('/notice/'.length);").await.as_str().unwrap().to_string()
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

async fn login(c: &Client, console: &Console, call_sign: &str, password: &str) {
    c.goto(&format!("{}/login", console.url)).await.unwrap();
    c.find(Locator::Id("call_sign")).await.unwrap().send_keys(call_sign).await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(password).await.unwrap();
    c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    until(c, "the board after log-in", "document.getElementById('board')", Duration::from_secs(10)).await;
}

async fn fill(c: &Client, css: &str, text: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

async fn choose(c: &Client, css: &str, value: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .select_by_value(value)
        .await
        .unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
}

/// Saves a screenshot under the test's target directory, and under docs/console when
/// HOTLINE_UPDATE_SCREENSHOTS is set (as the README shows them).
async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    if std::env::var_os("HOTLINE_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/console");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(format!("{name}.png")), &png).unwrap();
    }
}

/// axe-core's serious and critical WCAG 2.1 A/AA violations on the page (nothing checked, with
/// a notice, where HOTLINE_AXE does not name the script).
async fn accessibility(c: &Client, page: &str) {
    let Some(path) = std::env::var_os("HOTLINE_AXE") else {
        assert!(
            std::env::var_os("HOTLINE_REQUIRE_BROWSER").is_none(),
            "HOTLINE_REQUIRE_BROWSER is set but HOTLINE_AXE does not name axe.min.js (.ci/run fetches it)"
        );
        eprintln!("NOTICE: HOTLINE_AXE is not set: {page} was not checked with axe-core");
        return;
    };
    let source = std::fs::read_to_string(path).unwrap();
    c.execute(&format!("{source}\n;return true;"), vec![]).await.unwrap();
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
               .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    let found: Vec<String> = serde_json::from_value(found).unwrap();
    assert!(found.is_empty(), "axe-core on the {page}: {found:#?}");
}

/// A network of `nodes` with `policy`, its officers added (`(node, call sign, language,
/// password)`), every node running with its links tested, and the consoles of alpha and bravo.
fn desks(
    nodes: usize,
    policy: &str,
    release: bool,
    officers: &[(&str, &str, &str, &str)],
) -> (Net, Console, Console) {
    let mut net = Net::init(nodes, Some(policy));
    if release {
        net.second_officer("alpha", &[Precedence::Flash, Precedence::Immediate]);
    }
    for (node, call_sign, language, password) in officers {
        net.add_officer(node, call_sign, language, password);
    }
    net.start_all();
    net.wait_links();
    let alpha = start_console(&net, "alpha");
    let bravo = start_console(&net, "bravo");
    (net, alpha, bravo)
}

// ---- the tests ----

// ---- the keyboard ----

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const SPACE: &str = "\u{E00D}";
const RIGHT: &str = "\u{E014}";
const DOWN: &str = "\u{E015}";

/// Keys pressed and released, to whatever has the focus, as a keyboard sends them (WebDriver's
/// key actions: an element's "send keys" would focus that element first, and a date-time input
/// would then never let Tab leave it).
async fn keys(c: &Client, keys: &str) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut actions = KeyActions::new("keyboard".into());
    for k in keys.chars() {
        actions = actions.then(KeyAction::Down { value: k }).then(KeyAction::Up { value: k });
    }
    c.perform_actions(actions).await.unwrap();
}

/// Text typed into the field that has the focus.
async fn type_text(c: &Client, text: &str) {
    c.active_element().await.unwrap().send_keys(text).await.unwrap();
}

/// Tabs forward until the focus is on `css` (at most 300 Tabs): how many it took.
async fn tab_to(c: &Client, css: &str) -> usize {
    let here = format!("return !!document.activeElement && document.activeElement.matches({css:?});");
    for n in 0..300 {
        if js(c, &here).await == Value::Bool(true) {
            return n;
        }
        keys(c, TAB).await;
    }
    panic!("{css} is not reachable with Tab");
}

/// Tabs to a field and types into it.
async fn type_into(c: &Client, css: &str, text: &str) {
    tab_to(c, css).await;
    type_text(c, text).await;
}

/// Waits until the element with this id has the focus.
async fn until_focus(c: &Client, what: &str, id: &str) {
    let focused = format!("document.activeElement && document.activeElement.id === {id:?}");
    until(c, what, &focused, Duration::from_secs(10)).await;
}

/// The command line (`:`), as an officer types it.
async fn command(c: &Client, text: &str) {
    c.find(Locator::Css("body")).await.unwrap().send_keys(":").await.unwrap();
    until_focus(c, "the command line", "cmdline").await;
    type_text(c, text).await;
    keys(c, ENTER).await;
}

/// Walks the page with Tab from its top, once round: every control a mouse could use (one radio
/// per group, as browsers tab) must take the focus, and show that it has it.
async fn walk(c: &Client, page: &str) {
    let count = js(
        c,
        r#"
        const all = [...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')]
          .filter(el => !el.disabled && el.tabIndex >= 0 && el.type !== 'hidden' && el.getClientRects().length > 0
                        && getComputedStyle(el).visibility !== 'hidden');
        const groups = new Set();
        window.__kb = all.filter(el => {
          if (el.type !== 'radio') return true;
          const key = (el.form ? el.form.getAttribute('action') : '') + '|' + el.name;
          if (groups.has(key)) return false;
          groups.add(key);
          return true;
        });
        window.__kbUnseen = [];
        document.activeElement && document.activeElement.blur();
        window.scrollTo(0, 0);
        return window.__kb.length;"#,
    )
    .await
    .as_u64()
    .unwrap();
    // Some controls take several stops (a date-time's fields): round until every one was seen.
    for _ in 0..count * 8 + 10 {
        keys(c, TAB).await;
        let done = js(
            c,
            r#"
            const a = document.activeElement;
            if (a && a !== document.body) {
              a.dataset.kbSeen = '1';
              if (a.type === 'radio') for (const r of document.querySelectorAll('input[type=radio]'))
                if (r.name === a.name && r.form === a.form) r.dataset.kbSeen = '1';
              const st = getComputedStyle(a);
              if (st.outlineStyle === 'none' || parseFloat(st.outlineWidth) < 2) window.__kbUnseen.push(a.outerHTML.slice(0, 120));
            }
            return window.__kb.every(el => el.dataset.kbSeen);"#,
        )
        .await;
        if done == Value::Bool(true) {
            break;
        }
    }
    let missing =
        js(c, "return window.__kb.filter(el => !el.dataset.kbSeen).map(el => el.outerHTML.slice(0, 120));")
            .await;
    assert_eq!(missing, json!([]), "{page}: not reached with Tab");
    let unseen = js(c, "return window.__kbUnseen;").await;
    assert_eq!(unseen, json!([]), "{page}: focus not shown");
    assert!(count >= 3, "{page}: {count} controls");
}

/// A radio of a group chosen with the arrow keys, the group reached with Tab.
async fn radio(c: &Client, group: &str, value: &str) {
    tab_to(c, group).await;
    let chosen =
        format!("return document.activeElement.value === {value:?} && document.activeElement.checked;");
    for _ in 0..4 {
        if js(c, &chosen).await == Value::Bool(true) {
            return;
        }
        keys(c, RIGHT).await;
    }
    panic!("{value} not chosen in {group}");
}

/// An option of a select chosen with the keys: Home, then the down arrow.
async fn option(c: &Client, select: &str, value: &str) {
    tab_to(c, select).await;
    keys(c, "\u{E011}").await;
    let chosen = format!("return document.activeElement.value === {value:?};");
    for _ in 0..8 {
        if js(c, &chosen).await == Value::Bool(true) {
            return;
        }
        keys(c, DOWN).await;
    }
    panic!("{value} not chosen in {select}");
}

/// Every action of the console with the keyboard alone: log in, arm the alarm, compose a
/// codebook notice, release it as the second officer, acknowledge and reply at the other desk,
/// the hand-over; every control of every page reached with Tab, each showing its focus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_works_from_the_keyboard_alone() {
    let Some((_driver, driver, chromium)) = driver() else { return };
    let officers = [
        ("alpha", "duty-1", "en", "alpha first officer"),
        ("alpha", "duty-2", "en", "alpha second officer"),
        ("bravo", "desk-b", "en", "bravo desk officer"),
    ];
    let (net, alpha, bravo) = desks(2, S1_POLICY, true, &officers);
    let profiles = net.dir.path().join("profiles");
    let keyboard_login = |c: &Client, console: &Console, call_sign: &'static str, password: &'static str| {
        let (c, url) = (c.clone(), console.url.clone());
        async move {
            c.goto(&format!("{url}/login")).await.unwrap();
            walk(&c, "log-in").await;
            tab_to(&c, "#call_sign").await;
            type_text(&c, call_sign).await;
            tab_to(&c, "#password").await;
            type_text(&c, password).await;
            keys(&c, ENTER).await;
            until(
                &c,
                "the board after the log-in",
                "location.pathname === '/' && !!document.getElementById('board')",
                Duration::from_secs(10),
            )
            .await;
        }
    };

    let a1 = open(&driver, &chromium, &profiles.join("a1"), "en").await;
    keyboard_login(&a1, &alpha, "duty-1", "alpha first officer").await;
    command(&a1, "arm").await;
    until(&a1, "the alarm armed", "document.body.dataset.alarm === 'armed'", Duration::from_secs(5)).await;
    walk(&a1, "duty board").await;
    command(&a1, "compose").await;
    until(&a1, "the compose page", "location.pathname === '/compose'", Duration::from_secs(10)).await;
    walk(&a1, "compose").await;
    // A codebook notice, IMMEDIATE, to bravo for action: a draft for the second officer.
    a1.execute("document.activeElement.blur(); window.scrollTo(0, 0); return true;", vec![]).await.unwrap();
    tab_to(&a1, "form[action='/compose/code'] input[name=code]").await;
    radio(&a1, "form[action='/compose/code'] input[name='to/bravo']", "action").await;
    option(&a1, "#code-precedence", "immediate").await;
    type_into(&a1, "#code-note-en", "Sent from the keyboard.").await;
    type_into(&a1, "#code-note-zh", "键盘发送。").await;
    tab_to(&a1, "form[action='/compose/code'] button[type=submit]").await;
    keys(&a1, ENTER).await;
    until(&a1, "the draft held", "location.pathname === '/drafts'", Duration::from_secs(10)).await;
    let draft = net.json("alpha", &["drafts", "--json"])["drafts"][0]["draft"].as_u64().expect("a draft");

    let a2 = open(&driver, &chromium, &profiles.join("a2"), "en").await;
    keyboard_login(&a2, &alpha, "duty-2", "alpha second officer").await;
    command(&a2, "drafts").await;
    until(&a2, "the drafts page", "location.pathname === '/drafts'", Duration::from_secs(10)).await;
    walk(&a2, "drafts").await;
    a2.execute("document.activeElement.blur(); window.scrollTo(0, 0); return true;", vec![]).await.unwrap();
    tab_to(&a2, &format!("form[action='/drafts/{draft}/release'] button")).await;
    keys(&a2, ENTER).await;
    let id = at_notice(&a2, "the released notice", "alpha").await;
    walk(&a2, "notice view (sender)").await;

    let b = open(&driver, &chromium, &profiles.join("b"), "en").await;
    keyboard_login(&b, &bravo, "desk-b", "bravo desk officer").await;
    until_card(&b, "the notice on bravo's board", &id).await;
    command(&b, "ack").await;
    until_focus(&b, "the notice open at its form", "disposition").await;
    walk(&b, "notice view (addressee)").await;
    option(&b, "#disposition", "action_taken").await;
    tab_to(&b, "#ack button[type=submit]").await;
    keys(&b, ENTER).await;
    until(&b, "the acknowledgement stored", "location.search === '?done=ack'", Duration::from_secs(10)).await;
    command(&b, "reply").await;
    until_focus(&b, "the reply form", "reply-kind").await;
    option(&b, "#reply-precedence", "routine").await;
    type_into(&b, "#reply-text-en", "Denied, as asked.").await;
    type_into(&b, "#reply-text-zh", "已按要求否认。").await;
    tab_to(&b, "#reply button[type=submit]").await;
    keys(&b, SPACE).await;
    until(&b, "the reply stored", "location.search === '?done=reply'", Duration::from_secs(10)).await;
    let thread = net.json("alpha", &["show", &id, "--json"]);
    let party = &thread["notices"][0]["parties"][0];
    assert_eq!(party["ack"]["operator"], "desk-b", "{party}");
    assert_eq!(party["ack"]["disposition"], "action_taken", "{party}");
    assert_eq!(thread["notices"].as_array().unwrap().len(), 2, "the reply is in the thread: {thread}");

    command(&b, "handover 00:00").await;
    until(&b, "the hand-over", "location.pathname === '/handover'", Duration::from_secs(10)).await;
    walk(&b, "hand-over").await;
    // Escape closes the command line without doing anything.
    b.find(Locator::Css("body")).await.unwrap().send_keys(":").await.unwrap();
    keys(&b, "\u{E00C}").await;
    assert_eq!(js(&b, "return document.getElementById('cmdline-box').hidden;").await, Value::Bool(true));

    for c in [a1, a2, b] {
        c.close().await.unwrap();
    }
}

/// The print stylesheet's rules, applied on screen through the CSS object model (the content
/// security policy allows no inline style, and WebDriver cannot switch the media): what a
/// printed page hides and keeps.
async fn as_printed(c: &Client) {
    js(
        c,
        r#"
        const sheet = [...document.styleSheets].find(s => s.href && s.href.endsWith('/static/console.css'));
        const print = [...sheet.cssRules].filter(r => r.media && r.media.mediaText === 'print');
        for (const m of print) for (const r of m.cssRules) if (r.selectorText) sheet.insertRule(r.cssText, sheet.cssRules.length);
        return print.length;"#,
    )
    .await;
}

/// Attachments are hashed in the browser when composing; the addressee checks a file against
/// the hashes the notice carries; the notice prints as a log-book page (no navigation, no
/// forms; the notice, its thread and its receipts kept), and the browser prints it to a PDF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_hashed_and_checked_and_a_notice_prints_as_a_log_book_page() {
    use sha2::Digest;
    let Some((_driver, driver, chromium)) = driver() else { return };
    let officers =
        [("alpha", "duty-1", "en", "alpha first officer"), ("bravo", "desk-b", "en", "bravo desk officer")];
    let (net, alpha, bravo) = desks(2, S3_POLICY, false, &officers);
    let files = net.dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let photo = files.join("track-photo.jpg");
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&photo, &bytes).unwrap();
    let hash = hotline_proto::hex::encode(&sha2::Sha256::digest(&bytes));
    let other = files.join("other.jpg");
    std::fs::write(&other, b"not the photo").unwrap();
    let profiles = net.dir.path().join("profiles");

    let a = open(&driver, &chromium, &profiles.join("a"), "en").await;
    login(&a, &alpha, "duty-1", "alpha first officer").await;
    a.goto(&format!("{}/compose", alpha.url)).await.unwrap();
    click(&a, "form.compose input[name='to/bravo'][value=action]").await;
    choose(&a, "#compose-precedence", "priority").await;
    choose(&a, "select[name='/severity']", "moderate").await;
    click(&a, "input[name='/failure_modes'][value=misidentification]").await;
    click(&a, "button[data-now-for='f-occurred_ms']").await;
    fill(&a, "textarea[name='/summary/en']", "A track photo of the vessel our system misidentified.").await;
    choose(&a, "select[name='/human_control/role']", "in_the_loop").await;
    fill(&a, "input[name='/human_control/final_decision_by']", "commanding officer").await;
    fill(&a, "textarea[name='/human_control/statement/en']", "No engagement.").await;
    fill(&a, "textarea[name='/requested_response/en']", "Compare the photo with your registry.").await;
    fill(&a, "input[name='/contact']", "alpha liaison desk").await;
    a.find(Locator::Id("f-attachments-file"))
        .await
        .unwrap()
        .send_keys(photo.to_str().unwrap())
        .await
        .unwrap();
    until(
        &a,
        "the file hashed in the browser",
        "document.querySelector('input[name=\"/attachments/0/sha256\"]')",
        Duration::from_secs(10),
    )
    .await;
    let shown = js(&a, "return [document.querySelector('input[name=\"/attachments/0/sha256\"]').value, document.querySelector('input[name=\"/attachments/0/size\"]').value];").await;
    assert_eq!(shown, json!([hash, bytes.len().to_string()]), "the browser's SHA-256 and size of the file");
    click(&a, "form.compose button[type=submit]").await;
    let id = at_notice(&a, "the notice sent", "alpha").await;
    let thread = net.json("alpha", &["show", &id, "--json"]);
    let attachment = &thread["notices"][0]["body"]["incident"]["attachments"][0];
    assert_eq!(attachment["sha256"], json!(hash), "{attachment}");
    assert_eq!(attachment["description"], "track-photo.jpg");

    let b = open(&driver, &chromium, &profiles.join("b"), "en").await;
    login(&b, &bravo, "desk-b", "bravo desk officer").await;
    until_card(&b, "the notice on bravo's board", &id).await;
    b.goto(&format!("{}/notice/{id}", bravo.url)).await.unwrap();
    assert_eq!(
        js(&b, &format!("return !!document.querySelector('tr[data-sha256=\"{hash}\"]');")).await,
        Value::Bool(true)
    );
    b.find(Locator::Id("check-file")).await.unwrap().send_keys(photo.to_str().unwrap()).await.unwrap();
    until(
        &b,
        "the file matched",
        "document.getElementById('check-result').dataset.match === '1'",
        Duration::from_secs(10),
    )
    .await;
    b.find(Locator::Id("check-file")).await.unwrap().send_keys(other.to_str().unwrap()).await.unwrap();
    until(
        &b,
        "another file not matched",
        "document.getElementById('check-result').dataset.match === 'none'",
        Duration::from_secs(10),
    )
    .await;
    let said = js(&b, "return document.getElementById('check-result').textContent;").await;
    let other_hash = hotline_proto::hex::encode(&sha2::Sha256::digest(b"not the photo"));
    assert!(said.as_str().unwrap().contains(&other_hash), "the unmatched file's hash is shown: {said}");
    choose(&b, "#disposition", "understood").await;
    click(&b, "#ack button[type=submit]").await;
    until(&b, "the acknowledgement stored", "location.search === '?done=ack'", Duration::from_secs(10)).await;

    // The log-book page.
    let pdf = b.print(fantoccini::wd::PrintConfiguration::builder().build().unwrap()).await.unwrap();
    assert!(pdf.starts_with(b"%PDF-") && pdf.len() > 10_000, "a printed page of {} bytes", pdf.len());
    as_printed(&b).await;
    let hidden = js(
        &b,
        r#"return ['header.top', 'section.act', '#check-zone', 'form'].map(css => [...document.querySelectorAll(css)]
             .every(el => getComputedStyle(el).display === 'none'));"#,
    )
    .await;
    assert_eq!(
        hidden,
        json!([true, true, true, true]),
        "navigation, forms and the file check are not printed"
    );
    let kept = js(
        &b,
        r#"return ['article.notice', 'section.attachments', 'h1'].map(css => { const el = document.querySelector(css);
             return !!el && getComputedStyle(el).display !== 'none'; });"#,
    )
    .await;
    assert_eq!(kept, json!([true, true, true]), "the notice, its attachments and its title are printed");
    let stamp = js(&b, "return getComputedStyle(document.querySelector('h1'), '::after').content;").await;
    let stamp = stamp.as_str().unwrap();
    assert!(
        stamp.contains("printed") && stamp.contains("by desk-b at the bravo desk"),
        "the page says who printed it, when: {stamp}"
    );
    let ink = js(
        &b,
        "return [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color];",
    )
    .await;
    assert_eq!(ink, json!(["rgb(255, 255, 255)", "rgb(0, 0, 0)"]), "black on white");
    screenshot(&b, "notice-printed-en").await;

    for c in [a, b] {
        c.close().await.unwrap();
    }
}

/// S1 end to end through two consoles: alpha's officer composes the FLASH with the form (an
/// incomplete attempt first: every problem next to its field), a second alpha officer releases
/// it, bravo's board shows it live with its countdown and the alarm, bravo acknowledges and
/// replies, alpha's console shows both; the logs verify and cross-audit clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_through_two_consoles_with_a_second_officers_release() {
    let Some((_driver, driver, chromium)) = driver() else { return };
    let officers = [
        ("alpha", "duty-1", "en", "alpha first officer"),
        ("alpha", "duty-2", "en", "alpha second officer"),
        ("bravo", "desk-b", "zh", "bravo desk officer"),
    ];
    let (mut net, alpha, bravo) = desks(3, S1_POLICY, true, &officers);
    let profiles = net.dir.path().join("profiles");
    let a1 = open(&driver, &chromium, &profiles.join("a1"), "en").await;
    let b = open(&driver, &chromium, &profiles.join("b"), "zh").await;

    login(&b, &bravo, "desk-b", "bravo desk officer").await;
    click(&b, "#arm").await;
    until(&b, "the alarm armed", "document.body.dataset.alarm === 'armed'", Duration::from_secs(5)).await;
    // Set before the FLASH exists: still there after, so the board was never reloaded.
    js(&b, "window.__sameDocument = true; return true;").await;
    screenshot(&b, "board-zh-quiet").await;

    login(&a1, &alpha, "duty-1", "alpha first officer").await;
    click(&a1, "#arm").await;
    accessibility(&a1, "duty board").await;
    a1.goto(&format!("{}/compose", alpha.url)).await.unwrap();
    accessibility(&a1, "compose form").await;
    // An incomplete report: every problem at once, each next to its field.
    click(&a1, "input[name='to/bravo'][value=action]").await;
    choose(&a1, "#compose-precedence", "flash").await;
    fill(
        &a1,
        "textarea[name='/summary/en']",
        "Our decision-support system classified a civilian vessel as hostile.",
    )
    .await;
    click(&a1, "form.compose button[type=submit]").await;
    until(&a1, "the problems listed", "document.getElementById('problems')", Duration::from_secs(10)).await;
    for field in [
        "f-failure_modes-errors",
        "f-summary-errors",
        "f-human_control-final_decision_by-errors",
        "f-contact-errors",
    ] {
        let there = js(&a1, &format!("return !!document.getElementById('{field}');")).await;
        assert_eq!(there, Value::Bool(true), "no problem shown at {field}");
    }
    assert_eq!(net.json("alpha", &["drafts", "--json"])["drafts"], json!([]), "nothing was drafted");
    // What was typed is kept; the rest is filled in.
    click(&a1, "input[name='to/charlie'][value=info]").await;
    choose(&a1, "#compose-precedence", "flash").await;
    choose(&a1, "select[name='/severity']", "high").await;
    click(&a1, "input[name='/failure_modes'][value=misidentification]").await;
    click(&a1, "input[name='/failure_modes'][value=automation_bias]").await;
    click(&a1, "button[data-now-for='f-occurred_ms']").await;
    fill(&a1, "input[name='/location/region']", "East China Sea, grid QK-17").await;
    fill(&a1, "input[name='/location/lat_decideg']", "29.1").await;
    fill(&a1, "input[name='/location/lon_decideg']", "124.4").await;
    fill(&a1, "textarea[name='/summary/zh']", "我方决策支持系统将一艘民用船只误判为敌对目标。").await;
    choose(&a1, "select[name='/human_control/role']", "in_the_loop").await;
    fill(&a1, "input[name='/human_control/final_decision_by']", "commanding officer").await;
    fill(
        &a1,
        "textarea[name='/human_control/statement/en']",
        "Engagement was withheld; the vessel was hailed.",
    )
    .await;
    fill(&a1, "textarea[name='/human_control/statement/zh']", "未实施交战，已对该船只进行呼叫。").await;
    fill(&a1, "textarea[name='/requested_response/en']", "Please confirm the vessel's identity.").await;
    fill(&a1, "textarea[name='/requested_response/zh']", "请确认该船只身份。").await;
    fill(&a1, "input[name='/contact']", "alpha liaison desk").await;
    screenshot(&a1, "compose-en").await;
    click(&a1, "form.compose button[type=submit]").await;
    until(&a1, "the draft held", "location.pathname === '/drafts'", Duration::from_secs(10)).await;
    let drafts = net.json("alpha", &["drafts", "--json"]);
    let draft = drafts["drafts"][0]["draft"].as_u64().expect("a draft");
    assert_eq!(drafts["drafts"][0]["drafted_by"], "duty-1");
    // Its author is offered no release.
    let own =
        js(&a1, &format!("return !!document.querySelector('form[action=\"/drafts/{draft}/release\"]');"))
            .await;
    assert_eq!(own, Value::Bool(false), "duty-1 was offered to release its own draft");

    // The second officer releases it.
    let a2 = open(&driver, &chromium, &profiles.join("a2"), "en").await;
    login(&a2, &alpha, "duty-2", "alpha second officer").await;
    let board = js(&a2, "return document.getElementById('duty-release').innerText;").await;
    assert!(board.as_str().unwrap().contains("duty-1"), "{board}");
    a2.goto(&format!("{}/drafts", alpha.url)).await.unwrap();
    click(&a2, &format!("form[action='/drafts/{draft}/release'] button")).await;
    let id = at_notice(&a2, "the released notice", "alpha").await;
    let released = Instant::now();

    // bravo's board shows it live, with its countdown, and the alarm rings.
    until(
        &b,
        "the FLASH on bravo's board",
        &format!("document.querySelector('.card-ack[data-notice=\"{id}\"]')"),
        Duration::from_secs(5),
    )
    .await;
    let shown_after = released.elapsed();
    // A figure for the notes, not a pass mark: release answered → card on the other desk's board.
    eprintln!(
        "FIGURE: the released FLASH was on bravo's board {} ms after the release was answered",
        shown_after.as_millis()
    );
    assert!(shown_after < Duration::from_secs(3), "the FLASH took {shown_after:?} to reach bravo's board");
    assert_eq!(
        js(&b, "return window.__sameDocument === true;").await,
        Value::Bool(true),
        "the board was reloaded"
    );
    let rang = js(&b, "return window.hotline.rings.map(r => r.reason);").await;
    assert!(rang.as_array().unwrap().contains(&json!("notice_received_flash")), "{rang}");
    let countdown = js(
        &b,
        &format!(
            "return document.querySelector('.card-ack[data-notice=\"{id}\"] .countdown').dataset.state;"
        ),
    )
    .await;
    assert_eq!(countdown, json!("ok"));
    screenshot(&b, "board-zh").await;

    // bravo reads it, both languages side by side, its own first, and acknowledges.
    b.goto(&format!("{}/notice/{id}", bravo.url)).await.unwrap();
    let first =
        js(&b, "return document.querySelector('[data-field=summary] .lang-text').getAttribute('lang');")
            .await;
    assert_eq!(first, json!("zh"), "the officer's language first");
    let both = js(&b, "return document.querySelectorAll('[data-field=summary] .lang-text').length;").await;
    assert_eq!(both, json!(2));
    accessibility(&b, "notice view").await;
    screenshot(&b, "notice-zh").await;
    choose(&b, "#disposition", "investigating").await;
    fill(&b, "#ack-note-zh", "正在核查。").await;
    fill(&b, "#ack-note-en", "We are investigating.").await;
    click(&b, "#ack button[type=submit]").await;
    until(&b, "the acknowledgement stored", "location.search === '?done=ack'", Duration::from_secs(10)).await;
    // And replies, at ROUTINE, knowing what alpha will owe.
    choose(&b, "#reply-precedence", "routine").await;
    let duty = js(&b, "return document.getElementById('reply-precedence-duty').textContent;").await;
    assert!(duty.as_str().unwrap().contains("6h"), "the form says what the recipient owes: {duty}");
    fill(&b, "#reply-text-zh", "船只为渔船，已核实。").await;
    fill(&b, "#reply-text-en", "The vessel is a fishing boat; verified.").await;
    click(&b, "#reply button[type=submit]").await;
    until(&b, "the reply stored", "location.search === '?done=reply'", Duration::from_secs(10)).await;

    // alpha's console shows both: bravo's acknowledgement in its table, the reply to acknowledge.
    a1.goto(&format!("{}/notice/{id}", alpha.url)).await.unwrap();
    until(&a1, "bravo's acknowledgement at alpha", "document.querySelector('tr[data-party=bravo]') && document.querySelector('tr[data-party=bravo]').innerText.includes('desk-b')", Duration::from_secs(10)).await;
    let row = js(&a1, "return document.querySelector('tr[data-party=bravo]').innerText;").await;
    assert!(row.as_str().unwrap().contains("investigating"), "{row}");
    screenshot(&a1, "notice-en").await;
    a1.goto(&alpha.url).await.unwrap();
    until(
        &a1,
        "bravo's reply awaiting alpha",
        "document.querySelector('.card-ack')",
        Duration::from_secs(10),
    )
    .await;
    screenshot(&a1, "board-en").await;
    b.goto(&format!("{}/compose", bravo.url)).await.unwrap();
    screenshot(&b, "compose-zh").await;

    for c in [a1, a2, b] {
        c.close().await.unwrap();
    }
    drop((alpha, bravo));
    for name in ["alpha", "bravo", "charlie"] {
        net.stop(name);
    }
    net.export_and_audit(&["alpha", "bravo", "charlie"]);
}

/// S3 in the console: an unacknowledged IMMEDIATE turns amber, then red, the alarm fires and the
/// miss is on both boards; bravo acknowledges it late with the keyboard alone; then bravo's node
/// dies: alpha's board shows the link down, bravo's console the lost-node banner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_deadline_ages_and_a_node_dies_in_the_console() {
    let Some((_driver, driver, chromium)) = driver() else { return };
    let officers =
        [("alpha", "duty-a", "en", "alpha desk officer"), ("bravo", "duty-b", "en", "bravo desk officer")];
    let (mut net, alpha, bravo) = desks(2, S3_POLICY, false, &officers);
    let profiles = net.dir.path().join("profiles");
    let a = open(&driver, &chromium, &profiles.join("a"), "en").await;
    let b = open(&driver, &chromium, &profiles.join("b"), "en").await;
    login(&a, &alpha, "duty-a", "alpha desk officer").await;
    login(&b, &bravo, "duty-b", "bravo desk officer").await;
    click(&b, "#arm").await;

    let incident = hotline_testnet::harness::english_incident(net.dir.path());
    let id = net
        .ok(
            "alpha",
            &["send", "--to", "bravo", "--precedence", "immediate", "--incident", incident.to_str().unwrap()],
        )
        .trim()
        .to_string();
    let card = format!("document.querySelector('.card-ack[data-notice=\"{id}\"] .countdown')");
    until(&b, "the IMMEDIATE on bravo's board", &card, Duration::from_secs(5)).await;
    until(
        &b,
        "amber at 80 % of the window",
        &format!("{card}.dataset.state === 'warn'"),
        Duration::from_secs(16),
    )
    .await;
    let words = js(&b, &format!("return {card}.innerText;")).await;
    assert!(words.as_str().unwrap().contains("DUE SOON"), "said in words, not only colour: {words}");
    until(
        &b,
        "the alarm for the approaching deadline",
        "window.hotline.rings.some(r => r.reason === 'deadline_approaching')",
        Duration::from_secs(5),
    )
    .await;
    until(&b, "red once passed", &format!("{card}.dataset.state === 'over'"), Duration::from_secs(10)).await;
    until(
        &b,
        "the miss on bravo's board",
        &format!("document.querySelector('.card-ack[data-notice=\"{id}\"]').innerText.includes('MISSED')"),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(js(&b, "return document.body.dataset.alarm !== 'disarmed';").await, Value::Bool(true));
    until(
        &a,
        "the miss on alpha's board",
        &format!("document.querySelector('.card-missed[data-notice=\"{id}\"]')"),
        Duration::from_secs(10),
    )
    .await;

    // Late, by keyboard only: the command line opens the notice at its form, Tab and Enter send.
    let body = b.find(Locator::Css("body")).await.unwrap();
    body.send_keys(":").await.unwrap();
    let line = b.find(Locator::Id("cmdline")).await.unwrap();
    line.send_keys("ack\u{E007}").await.unwrap();
    until_focus(&b, "the notice open at its form", "disposition").await;
    let focused = b.active_element().await.unwrap();
    focused.send_keys("\u{E015}").await.unwrap(); // arrow down: investigating
    for _ in 0..2 {
        b.active_element().await.unwrap().send_keys("\u{E004}").await.unwrap(); // Tab
    }
    let on = js(&b, "return document.activeElement.getAttribute('type') + ' ' + document.activeElement.closest('section').id;").await;
    assert_eq!(on, json!("submit ack"), "two Tabs from the disposition reach the button");
    b.active_element().await.unwrap().send_keys("\u{E007}").await.unwrap(); // Enter
    until(&b, "the late acknowledgement stored", "location.search === '?done=ack'", Duration::from_secs(10))
        .await;
    let thread = net.json("alpha", &["show", &id, "--json"]);
    let party = &thread["notices"][0]["parties"][0];
    assert_eq!(party["ack_missed"], true, "{party}");
    assert_eq!(party["ack"]["operator"], "duty-b", "the call sign, never a typed name: {party}");

    // bravo's node dies.
    b.goto(&bravo.url).await.unwrap();
    a.goto(&alpha.url).await.unwrap();
    net.kill9("bravo");
    until(
        &b,
        "the lost-node banner at bravo",
        "document.body.dataset.node === 'lost' && !document.getElementById('lost').hidden",
        Duration::from_secs(10),
    )
    .await;
    until(
        &a,
        "bravo's link down at alpha",
        "document.querySelector('tr[data-peer=bravo][data-state=down]')",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        js(&a, "return window.hotline.rings.some(r => r.reason === 'link_down');").await,
        Value::Bool(true)
    );
    // Back: the banner goes by itself.
    net.start("bravo");
    until(
        &b,
        "the banner gone",
        "document.body.dataset.node === 'up' && document.getElementById('lost').hidden",
        Duration::from_secs(20),
    )
    .await;
    for c in [a, b] {
        c.close().await.unwrap();
    }
}

/// The forms' guards, over raw HTTP: no form works without a session or without its CSRF token
/// or from another origin; an officer cannot release their own draft; bad input is answered with
/// a page that says what is wrong, never a server error; failed log-ins are limited.
#[test]
fn the_consoles_forms_refuse_what_they_must() {
    let officers =
        [("alpha", "duty-1", "en", "alpha first officer"), ("alpha", "duty-2", "zh", "alpha second officer")];
    let (net, alpha, _bravo) = desks(2, S1_POLICY, true, &officers);
    let reply = [("kind", "reply"), ("precedence", "flash"), ("text/en", "x"), ("text/zh", "x")];
    let code = [("code", "7"), ("to/bravo", "action"), ("precedence", "flash")];

    // Without a session: to the log-in, nothing done.
    let (status, head, _) = post(&alpha, "/compose/code", "", &code);
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("location: /login"), "{head}");
    // Pages too.
    for path in ["/", "/compose", "/drafts", "/handover", "/events", "/board"] {
        let (status, head, _) = http(&alpha.url, "GET", path, &[], "");
        assert_eq!(status, 303, "{path}: {head}");
    }
    // The headers of every page.
    let (_, head, _) = http(&alpha.url, "GET", "/login", &[], "");
    let lower = head.to_ascii_lowercase();
    for h in
        ["content-security-policy: default-src 'none'", "x-frame-options: deny", "cache-control: no-store"]
    {
        assert!(lower.contains(h), "{h} missing: {head}");
    }
    // A log-in form from elsewhere (no login cookie) is refused.
    let (status, _, _) = post(
        &alpha,
        "/login",
        "",
        &[("csrf", &"0".repeat(64)), ("call_sign", "duty-1"), ("password", "alpha first officer")],
    );
    assert_eq!(status, 403);

    let (cookie, csrf) = http_login(&alpha, "duty-1", "alpha first officer");
    // No token, a wrong token, another origin: refused, nothing done.
    for token in ["", "0000"] {
        let mut fields = code.to_vec();
        fields.push(("csrf", token));
        let (status, _, page) = post(&alpha, "/compose/code", &cookie, &fields);
        assert_eq!(status, 403, "{page}");
    }
    let mut fields = code.to_vec();
    fields.push(("csrf", &csrf));
    let (status, _, _) = http(
        &alpha.url,
        "POST",
        "/compose/code",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", "http://evil.example"),
        ],
        &web::form(&fields),
    );
    assert_eq!(status, 403);
    assert_eq!(net.json("alpha", &["drafts", "--json"])["drafts"], json!([]), "nothing was drafted");

    // With both: the FLASH is drafted, not sent.
    let (status, head, _) = post(&alpha, "/compose/code", &cookie, &fields);
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("/drafts?drafted="), "{head}");
    let draft = net.json("alpha", &["drafts", "--json"])["drafts"][0]["draft"].as_u64().unwrap();
    // Its author cannot release it, even by posting the form by hand.
    let (status, _, page) = post(&alpha, &format!("/drafts/{draft}/release"), &cookie, &[("csrf", &csrf)]);
    assert_eq!(status, 422);
    assert!(page.contains("a second officer must release it"), "{page}");
    assert_eq!(net.json("alpha", &["drafts", "--json"])["drafts"].as_array().unwrap().len(), 1);
    // The second officer can, and a second release finds nothing.
    let (cookie2, csrf2) = http_login(&alpha, "duty-2", "alpha second officer");
    let (status, head, _) = post(&alpha, &format!("/drafts/{draft}/release"), &cookie2, &[("csrf", &csrf2)]);
    assert_eq!(status, 303, "{head}");
    let (status, _, page) = post(&alpha, &format!("/drafts/{draft}/release"), &cookie2, &[("csrf", &csrf2)]);
    assert_eq!(status, 422);
    assert!(page.contains("没有草稿") || page.contains("there is no draft"), "{page}");

    // Bad input: a page that says what is wrong, never a server error.
    let bad: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/compose".into(),
            vec![
                ("csrf", &csrf),
                ("precedence", "loud"),
                ("/occurred_ms", "yesterday"),
                ("/location/lat_decideg", "north"),
            ],
        ),
        ("/compose/code".into(), vec![("csrf", &csrf), ("code", "99"), ("precedence", "flash")]),
        ("/notice/alpha/999/ack".into(), vec![("csrf", &csrf), ("disposition", "understood")]),
        ("/notice/alpha/1/ack".into(), vec![("csrf", &csrf), ("disposition", "shrug")]),
        ("/notice/alpha/999/reply".into(), reply.iter().copied().chain([("csrf", csrf.as_str())]).collect()),
        ("/language".into(), vec![("csrf", &csrf), ("language", "klingon")]),
        ("/drafts/77/discard".into(), vec![("csrf", &csrf)]),
    ];
    for (path, fields) in &bad {
        let (status, _, page) = post(&alpha, path, &cookie, fields);
        assert!((400..500).contains(&status), "{path}: {status}\n{page}");
        assert!(page.contains("role=\"alert\""), "{path}: no message\n{page}");
    }
    let (status, _, _) = http(&alpha.url, "GET", "/notice/alpha/not-a-number", &[("Cookie", &cookie)], "");
    assert!((400..500).contains(&status), "{status}");
    let huge = "x".repeat(600 * 1024);
    let (status, _, _) = post(&alpha, "/compose", &cookie, &[("csrf", &csrf), ("/contact", &huge)]);
    assert_eq!(status, 413);
    let (status, _, page) = http(&alpha.url, "GET", "/handover?since=25:99", &[("Cookie", &cookie)], "");
    assert_eq!(status, 200);
    assert!(page.contains("HH:MM"), "{page}");

    // Log-out ends the session.
    let (status, _, _) = post(&alpha, "/logout", &cookie, &[("csrf", &csrf)]);
    assert_eq!(status, 303);
    let (status, _, _) = http(&alpha.url, "GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(status, 303, "the session is over");

    // Failed log-ins: five, then the call sign is locked, even with the right password.
    for _ in 0..5 {
        assert_eq!(attempt_login(&alpha, "duty-2", "wrong password here").0, 401);
    }
    let (status, _, page) = attempt_login(&alpha, "duty-2", "alpha second officer");
    assert_eq!(status, 429, "{page}");
    // An officer removed is logged out at once.
    net.ok("alpha", &["officer", "remove", "duty-2"]);
    let (status, _, _) = http(&alpha.url, "GET", "/", &[("Cookie", &cookie2)], "");
    assert_eq!(status, 303);
    // Beyond loopback without TLS: refused at start, with the way out.
    let out = Command::new(binary())
        .args(["--home", net.home("alpha").dir().to_str().unwrap(), "console", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only over TLS"));
    drop(alpha);
}

/// Over TLS with a configured certificate: served as HTTPS, with the certificate verified by a
/// real client (curl), and not at all as plain HTTP. Needs openssl and curl (Debian's); says so
/// and stops without them.
#[test]
fn the_console_serves_tls_with_a_configured_certificate() {
    let have = |tool: &str| Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    if !have("openssl") || !have("curl") {
        eprintln!("NOTICE: openssl or curl is not installed: the console's TLS was not tested");
        return;
    }
    let net = Net::init(2, None);
    let dir = net.dir.path();
    let (cert, key) = (dir.join("desk.pem"), dir.join("desk.key"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let port = free_tcp_port();
    let log = std::fs::File::create(dir.join("tls-console.log")).unwrap();
    let _console = Running(
        Command::new(binary())
            .args([
                "--home",
                net.home("alpha").dir().to_str().unwrap(),
                "console",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let url = format!("https://localhost:{port}/login");
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        let out = Command::new("curl").args(["-sS", "--cacert"]).arg(&cert).arg(&url).output().unwrap();
        if out.status.success() {
            break String::from_utf8(out.stdout).unwrap();
        }
        assert!(Instant::now() < deadline, "no HTTPS: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(page.contains("name=\"call_sign\""), "{page}");
    let said = std::fs::read_to_string(dir.join("tls-console.log")).unwrap();
    assert!(said.contains("(TLS)"), "the console says at start that it serves TLS: {said}");
    // A client that does not know the certificate is refused; plain HTTP gets nothing.
    let unknown = Command::new("curl").args(["-sS", &url]).output().unwrap();
    assert!(!unknown.status.success());
    assert_eq!(http(&format!("http://127.0.0.1:{port}"), "GET", "/login", &[], "").0, 0);
}
