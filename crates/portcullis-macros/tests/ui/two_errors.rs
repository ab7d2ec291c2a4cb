use portcullis::secured;

#[secured(admin)]
fn admin() {}

fn main() {}
