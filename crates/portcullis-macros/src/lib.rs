//! # portcullis-macros
//!
//! The [`macro@secured`] attribute: cbsecurity's `secured` annotation on an axum handler.
//!
//! Use it through `portcullis` (feature `macros`, on by default), as `portcullis::secured`;
//! the expansion names `::portcullis`, so the crate must be a dependency under that name.
//!
//! ```
//! use axum::{routing::get, Router};
//! use portcullis::firewall::{Firewall, FirewallLayer};
//! use portcullis::secured;
//!
//! /// Any logged-in user.
//! #[secured]
//! async fn me() -> &'static str {
//!     "me"
//! }
//!
//! /// A user with `reports:read` or `reports:admin`.
//! #[secured("reports:read, reports:admin")]
//! async fn reports() -> &'static str {
//!     "reports"
//! }
//!
//! fn app(firewall: Firewall) -> Router {
//!     Router::new()
//!         .route("/me", get(me))
//!         .route("/reports", get(reports))
//!         .layer(FirewallLayer::new(firewall))
//! }
//! ```

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::{parse_quote, Item, ItemFn, LitStr};

/// Guards an axum handler: cbsecurity's `secured` annotation on an action.
///
/// | attribute | who passes |
/// |---|---|
/// | `#[secured]`, `#[secured("true")]`, `#[secured("secured")]` | any logged-in user |
/// | `#[secured("reports:read, reports:admin")]` | a logged-in user with **any** of these permissions |
/// | `#[secured("false")]` (or `"no"`, `"0"`) | everyone: the guard is open |
///
/// The argument is one string literal, or nothing; there is no `value = "…"` form. At each
/// request the value is read by `portcullis::firewall::Secured::parse` and decided by the
/// firewall's validator, exactly like a `portcullis::guard::secured("…")` layer's.
///
/// # What it expands to
///
/// The handler is kept as written — name, visibility, attributes, doc comments, generics,
/// where-clause, return type and body — with one more argument, first, the
/// `portcullis::guard::Guarded` extractor, and beside it a hidden zero-sized type that
/// carries the value:
///
/// ```ignore
/// #[secured("reports:read")]
/// pub async fn reports(State(db): State<Db>) -> String { /* … */ }
///
/// // becomes
///
/// #[doc(hidden)]
/// #[allow(non_camel_case_types)]
/// pub struct __Secured_reports;
///
/// impl ::portcullis::guard::GuardSpec for __Secured_reports {
///     const VALUE: &'static str = "reports:read";
/// }
///
/// pub async fn reports(
///     _: ::portcullis::guard::Guarded<__Secured_reports>,
///     State(db): State<Db>,
/// ) -> String { /* … */ }
/// ```
///
/// # Extractor order
///
/// axum runs a handler's extractors in argument order, so the guard, being the first
/// argument, runs before every other one: a refused request never reaches the handler's own
/// extractors (its body is not read, a `Path` or `Json` rejection does not show instead of
/// the 401/403). It takes one of axum's 16 argument places.
///
/// # Where it goes
///
/// On an `async fn` that is a free function (in a module or a block). Not on a method with
/// `self`, and not on an associated function inside an `impl` block either: the hidden type
/// cannot be declared there, and rustc says "struct is not supported in `trait`s or `impl`s".
/// One `#[secured]` per handler; for a guard on a group of routes, use the
/// `portcullis::guard::secured("…").group()` layer, which runs before the handler's.
///
/// The guard needs the `portcullis::firewall::FirewallLayer` outside the route; without it
/// the route answers 500 (it never opens). With `firewall.handler_annotation_security =
/// false`, every guard is open.
///
/// # Errors
///
/// At compile time, pointing at the culprit: the attribute on anything but a function, on a
/// function that is not `async`, on a method with `self`, twice on one function, or with an
/// argument that is not one string literal (`#[secured(admin)]`, `#[secured(1)]`,
/// `#[secured("a", "b")]`, `#[secured(value = "a")]`).
#[proc_macro_attribute]
pub fn secured(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    match expand(attr.into(), item.clone()) {
        Ok(expanded) => expanded.into(),
        // The item is kept, unguarded, so that the only error is the attribute's.
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#error #item).into()
        }
    }
}

/// The guarded handler and its guard type, or every error found.
fn expand(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let function = handler(item);
    let value = guard_value(attr);
    let (mut function, value) = match (function, value) {
        (Ok(function), Ok(value)) => (function, value),
        (Err(mut first), Err(second)) => {
            first.combine(second);
            return Err(first);
        }
        (Err(error), _) | (_, Err(error)) => return Err(error),
    };
    let guard = format_ident!("__Secured_{}", function.sig.ident);
    let vis = &function.vis;
    let declaration = quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #guard;

        impl ::portcullis::guard::GuardSpec for #guard {
            const VALUE: &'static str = #value;
        }
    };
    function
        .sig
        .inputs
        .insert(0, parse_quote!(_: ::portcullis::guard::Guarded<#guard>));
    Ok(quote!(#declaration #function))
}

/// The item, if it is an `async fn` without `self` and without another `#[secured]`.
fn handler(item: TokenStream2) -> syn::Result<ItemFn> {
    let function = match syn::parse2::<Item>(item)? {
        Item::Fn(function) => function,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "#[secured] goes on an `async fn` handler",
            ))
        }
    };
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        let (fn_token, ident) = (&sig.fn_token, &sig.ident);
        return Err(syn::Error::new_spanned(
            quote!(#fn_token #ident),
            "#[secured] needs an `async fn`: make the handler async",
        ));
    }
    if let Some(receiver) = sig.receiver() {
        return Err(syn::Error::new_spanned(
            receiver,
            "#[secured] cannot guard a method that takes `self`: an axum handler is a free \
             `async fn`",
        ));
    }
    let again = function.attrs.iter().find(|attr| {
        attr.path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "secured")
    });
    if let Some(again) = again {
        return Err(syn::Error::new_spanned(
            again,
            "#[secured] can only appear once on a handler: list every permission in one \
             value, e.g. #[secured(\"a, b\")] (any of them passes)",
        ));
    }
    Ok(function)
}

/// The attribute's value: `""` for a bare `#[secured]`, else its one string literal.
fn guard_value(attr: TokenStream2) -> syn::Result<LitStr> {
    if attr.is_empty() {
        return Ok(parse_quote!(""));
    }
    match syn::parse2::<LitStr>(attr.clone()) {
        Ok(value) if value.suffix().is_empty() => Ok(value),
        _ => Err(syn::Error::new_spanned(
            attr,
            "expected one string literal, e.g. #[secured(\"reports:read\")], or a bare \
             #[secured] for any logged-in user",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_gets_the_guard_first_and_keeps_the_rest() {
        let expanded = expand(
            quote!("reports:read"),
            quote! {
                /// Reports.
                #[must_use]
                pub(crate) async fn reports<T: Send>(State(db): State<T>) -> String
                where
                    T: Sync,
                {
                    db.list()
                }
            },
        )
        .unwrap();
        let expected = quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            pub(crate) struct __Secured_reports;

            impl ::portcullis::guard::GuardSpec for __Secured_reports {
                const VALUE: &'static str = "reports:read";
            }

            /// Reports.
            #[must_use]
            pub(crate) async fn reports<T: Send>(
                _: ::portcullis::guard::Guarded<__Secured_reports>,
                State(db): State<T>
            ) -> String
            where
                T: Sync,
            {
                db.list()
            }
        };
        assert_eq!(expanded.to_string(), expected.to_string());
    }

    #[test]
    fn a_bare_attribute_is_the_empty_value() {
        let expanded = expand(
            quote!(),
            quote!(
                async fn me() {}
            ),
        )
        .unwrap();
        let expected = quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            struct __Secured_me;

            impl ::portcullis::guard::GuardSpec for __Secured_me {
                const VALUE: &'static str = "";
            }

            async fn me(_: ::portcullis::guard::Guarded<__Secured_me>) {}
        };
        assert_eq!(expanded.to_string(), expected.to_string());
    }
}
