# Multi-stage build: a static musl binary on a minimal image, running as non-root.
FROM rust:1-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl && apt-get update \
    && apt-get install -y --no-install-recommends musl-tools && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin tocsin

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/tocsin /usr/local/bin/tocsin
COPY rules /etc/tocsin/rules
USER nonroot:nonroot
EXPOSE 8880
ENTRYPOINT ["/usr/local/bin/tocsin"]
CMD ["-rule=/etc/tocsin/rules/*.yml"]
