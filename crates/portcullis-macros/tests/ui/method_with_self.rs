use portcullis::secured;

struct Reports;

impl Reports {
    #[secured("reports:read")]
    async fn list(&self) -> &'static str {
        "reports"
    }
}

fn main() {}
