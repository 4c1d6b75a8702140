//! Catalogue pages: the product list and one product with its Buy form.

use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfToken, Data, Path};
use poem::{Response, error::ResponseError, handler};

use super::templates::{
    IndexPage, ProductPage, ProductView, internal_error_page, not_found_page, render,
};
use super::{SharedState, flash, parse_id};
use crate::catalogue;

#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    #[error("no such product")]
    NotFound,
    #[error("unexpected error")]
    Unexpected(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for ProductError {
    fn from(err: sea_orm::DbErr) -> Self {
        ProductError::Unexpected(anyhow::Error::new(err).context("reading the catalogue"))
    }
}

impl ResponseError for ProductError {
    fn status(&self) -> StatusCode {
        match self {
            ProductError::NotFound => StatusCode::NOT_FOUND,
            ProductError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        match self {
            ProductError::NotFound => not_found_page(),
            ProductError::Unexpected(cause) => {
                tracing::error!(error = ?cause, "product page failed");
                internal_error_page()
            }
        }
    }
}

#[handler]
#[tracing::instrument(name = "index", skip_all)]
pub async fn index(state: Data<&SharedState>, session: &Session) -> Result<Response, ProductError> {
    let products = catalogue::all(&state.reader).await?;
    Ok(render(&IndexPage {
        shop_name: state.shop_name.clone(),
        flashes: flash::take(session),
        products: products.iter().map(ProductView::from).collect(),
    }))
}

#[handler]
#[tracing::instrument(name = "product", skip(state, session, csrf_token))]
pub async fn show(
    Path(id): Path<String>,
    state: Data<&SharedState>,
    session: &Session,
    csrf_token: &CsrfToken,
) -> Result<Response, ProductError> {
    let id = parse_id(&id).ok_or(ProductError::NotFound)?;
    let product = catalogue::find(&state.reader, id)
        .await?
        .ok_or(ProductError::NotFound)?;
    Ok(render(&ProductPage {
        shop_name: state.shop_name.clone(),
        flashes: flash::take(session),
        product: ProductView::from(&product),
        csrf_token: csrf_token.0.clone(),
    }))
}
