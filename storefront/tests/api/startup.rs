use std::process::Command;

/// The binary refuses to start on bad configuration: exit 2, one line naming the variable.
#[test]
fn a_missing_variable_is_named_and_exits_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_storefront"))
        .env_clear()
        .env("STRIPE_PUBLISHABLE_KEY", "pk_test_x")
        .env("STRIPE_WEBHOOK_SECRET", "whsec_x")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim(), "storefront: STRIPE_SECRET_KEY is not set");
}

#[test]
fn a_malformed_port_is_named_and_exits_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_storefront"))
        .env_clear()
        .env("STRIPE_SECRET_KEY", "sk_test_x")
        .env("STRIPE_PUBLISHABLE_KEY", "pk_test_x")
        .env("STRIPE_WEBHOOK_SECRET", "whsec_x")
        .env("PORT", "abc")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        r#"storefront: PORT must be a number from 0 to 65535, got "abc""#
    );
}
