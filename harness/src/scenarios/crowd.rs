//! Many shoppers at once.

use std::sync::Arc;

use anyhow::{Context, ensure};

use super::Ctx;
use super::steps::*;
use crate::catalogue::for_sale;

/// `n` shoppers buy at the same time, round-robin over every product for sale (so some
/// buy the same product, others different ones).
pub async fn many_shoppers(ctx: &Ctx, n: usize) -> anyhow::Result<()> {
    let products = for_sale();
    let ctx = Arc::new(ctx);
    let buyers = (0..n).map(|i| {
        let product = products[i % products.len()].clone();
        let ctx = ctx.clone();
        async move {
            let shopper = ctx.shopper()?;
            let email = format!("shopper{i}@example.com");
            let checkout = open_payment_page(&ctx, &shopper, &product).await?;
            let landing = pay(&ctx, &shopper, &checkout.payment_page, CARD_SUCCESS, &email).await?;
            expect_thank_you(&ctx, &landing, &checkout, &product)?;
            anyhow::Ok((checkout.session_id, product, email))
        }
    });
    let results = futures::future::join_all(buyers).await;
    let mut bought = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        bought.push(r.with_context(|| format!("shopper {i}"))?);
    }
    for (session_id, product, email) in &bought {
        expect_order(&ctx, session_id, "paid", product, Some(email)).await?;
    }
    expect_paid_orders(&ctx, n).await?;
    expect_receipts(&ctx, n, None, None).await?;
    let receipts = ctx.stack.receipts()?;
    for (_, _, email) in &bought {
        let mine = receipts
            .iter()
            .filter(|r| r.contains(email.as_str()))
            .count();
        ensure!(mine == 1, "{email} got {mine} receipts");
    }
    ctx.timeline
        .check(format!("each of the {n} shoppers got exactly one receipt"));
    Ok(())
}
