use portcullis::secured;

#[secured("admin")]
struct Admin;

fn main() {}
