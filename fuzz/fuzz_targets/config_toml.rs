//! Any text as the TOML files operators write: the node's `config.toml` (`home::Config`), the
//! network policy (`roster::Policy`, for `hotline roster build`) and a testnet fault scenario
//! (`relay::Scenario`). What parses is checked and used the way the tools use it.
#![no_main]

use hotline_node::home::Config;
use hotline_proto::Policy;
use hotline_proto::Roster;
use hotline_testnet::relay::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(config) = toml::from_str::<Config>(text) {
        let again = toml::to_string(&config).expect("a config encodes");
        assert_eq!(toml::from_str::<Config>(&again).expect("re-reads"), config);
    }
    if let Ok(policy) = toml::from_str::<Policy>(text) {
        let fx = hotline_fuzz::vectors();
        let mut roster = fx.roster.clone();
        roster.policy = policy;
        if roster.check().is_ok() {
            // What `hotline roster build` writes must read back, and a node must start on it.
            let bytes = roster.to_bytes();
            assert_eq!(Roster::from_bytes(&bytes).expect("a checked roster reads back"), roster);
            let mut node = hotline_proto::Node::new(fx.keys[0].clone(), roster, hotline_fuzz::T0)
                .expect("a member starts on a checked roster");
            let mut now = hotline_fuzz::T0;
            for _ in 0..4 {
                match node.poll_timeout() {
                    Some(t) => now = now.max(t),
                    None => break,
                }
                node.handle_timeout(now);
                while node.poll_persist().is_some() {}
                node.persisted(node.log_len());
                while node.poll_transmit().is_some() {}
                while node.poll_event().is_some() {}
            }
        }
    }
    if let Ok(scenario) = toml::from_str::<Scenario>(text) {
        let names: Vec<String> = hotline_fuzz::NAMES.iter().map(|s| s.to_string()).collect();
        if scenario.check(&names).is_ok() {
            for a in &names {
                for b in &names {
                    let _ = scenario.faults(a, b);
                    for t in [0.0, 1.5, 1e9] {
                        let _ = scenario.cut(a, b, t);
                    }
                }
            }
        }
    }
});
