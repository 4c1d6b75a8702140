//! Page templates (askama, in `storefront/templates/`) and the helper that renders them.
//! Askama escapes every `{{ }}` in `.html` templates.

use askama::Template;
use poem::http::StatusCode;
use poem::web::Html;
use poem::{IntoResponse, Response};

use super::flash::Flash;
use crate::catalogue::Product;

/// Renders a template into an HTML response; a template bug becomes the opaque 500 page.
pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "rendering a template failed");
            internal_error_page()
        }
    }
}

/// A product as the pages show it.
pub struct ProductView {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `$29.00`, or `None` when not for sale.
    pub price: Option<String>,
    pub image_url: Option<String>,
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> Self {
        ProductView {
            id: p.id,
            name: p.name.clone(),
            description: p.description.clone(),
            price: p.price_label(),
            // Escaping keeps a URL inside its attribute, not a `javascript:` or `data:`
            // URL out of it: only https images are shown (the catalogue's rule).
            image_url: p
                .image_url
                .clone()
                .filter(|url| url.starts_with("https://")),
        }
    }
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub shop_name: String,
    pub flashes: Vec<Flash>,
    pub products: Vec<ProductView>,
}

#[derive(Template)]
#[template(path = "product.html")]
pub struct ProductPage {
    pub shop_name: String,
    pub flashes: Vec<Flash>,
    pub product: ProductView,
    pub csrf_token: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub shop_name: String,
    pub flashes: Vec<Flash>,
    pub status: u16,
    pub title: String,
    pub message: String,
}

/// The shop's name for pages that have no state at hand (error pages).
fn shop_name() -> String {
    crate::catalogue::store().name
}

/// An error page with `status`, a short title and a sentence for the shopper.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let page = ErrorPage {
        shop_name: shop_name(),
        flashes: Vec::new(),
        status: status.as_u16(),
        title: title.to_owned(),
        message: message.to_owned(),
    };
    match page.render() {
        Ok(html) => Html(html).with_status(status).into_response(),
        // Never recurse into another template: plain text is the last resort.
        Err(_) => (status, title.to_owned()).into_response(),
    }
}

pub fn not_found_page() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "We couldn't find that page. It may have moved, or the address is mistyped.",
    )
}

/// Opaque on purpose: the cause goes to the log, never to the browser.
pub fn internal_error_page() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Something went wrong on our side. Please try again in a moment.",
    )
}
