use portcullis::secured;

#[secured("admin")]
fn admin() -> &'static str {
    "admin"
}

fn main() {}
