//! A run's page as a person sees it: `lab-run` (the stand-in, three connector pods, the
//! crux-and-kafka outage during the PTS) writes `index.html`, which headless Chromium
//! opens with no console message, showing the verdict, the platform's origin, the
//! outage's figures and the PTS's; the screenshot is kept in the run folder.

use e2e::{TestLab, render_in_chromium};

#[test]
fn lab_run_leaves_a_page_that_a_browser_shows_with_the_verdict_and_the_figures() {
    let lab = TestLab::new("127.88");
    let run = lab.lab_run(&[
        "--egeria",
        "stand-in",
        "--replicas",
        "3",
        "--server-start-delay",
        "1s",
        "--scenario",
        "crux-and-kafka",
        "--max-gap",
        "5s",
    ]);
    run.assert_ok();
    let url = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("page: file://"))
        .unwrap_or_else(|| panic!("no page URL printed:\n{}", run.stdout));
    let page = std::path::PathBuf::from(url);
    assert!(page.ends_with("index.html"), "{url}");
    let run_dir = page.parent().unwrap();
    let size = std::fs::metadata(&page).unwrap().len();
    assert!(size < 2 * 1024 * 1024, "the page is {size} bytes");

    let screenshot = run_dir.join("index.png");
    let shown = render_in_chromium(&page, &screenshot);
    assert!(shown.console.is_empty(), "{:#?}", shown.console);
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 10_000,
        "an empty screenshot"
    );
    let text = &shown.text;
    for expected in [
        "egeria-ha-lab run",
        "PASS",
        // The platform's origin in its own words, and the banner that says it is no Egeria.
        "egeria-ha-lab stand-in platform (a test fixture, not Egeria)",
        "The stand-in ran, not Egeria",
        "connector replicas 3",
        "Bootstrap",
        "3/3 connector pods ready",
        "scenario crux-and-kafka",
        "lost writes 0",
        "stale reads",
        "longest gap",
        "Heal times",
        "Failed requests (",
        "Performance Test Suite",
        "addEntity",
        "Slowest assertions",
        "What never ran",
        "Failed PTS calls (",
    ] {
        assert!(text.contains(expected), "{expected:?} not shown:\n{text}");
    }
    // The pictures are there, inline: the bootstrap's steps, the outage's timeline and a
    // distribution and a course per (profile, method).
    let pictures = shown.dom.matches("<svg").count();
    assert!(pictures > 10, "{pictures} pictures");
    assert!(
        !shown.dom.contains("<script") && !shown.dom.contains("<link"),
        "the page fetches or runs something"
    );
}
