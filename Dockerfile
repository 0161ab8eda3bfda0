# dlpgate in a container: a build stage with the Rust toolchain, and a small runtime image
# (distroless, glibc, no shell) running as a non-root user.
#
#   docker build -t dlpgate .
#   docker run --rm -p 127.0.0.1:1344:1344 -v dlpgate-data:/var/lib/dlpgate dlpgate
#
# The image's command serves plain ICAP on the container's port 1344, which is reachable only
# where `-p` publishes it; for anything beyond one host, serve icaps with client
# certificates (docs/DEPLOY.md) and publish 11344 instead.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p dlpgate \
 && install -D -m 0755 target/release/dlpgate /out/usr/local/bin/dlpgate \
 && install -d -m 0700 /out/var/lib/dlpgate

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/usr/local/bin/dlpgate /usr/local/bin/dlpgate
COPY --from=build --chown=65532:65532 /out/var/lib/dlpgate /var/lib/dlpgate
USER 65532:65532
VOLUME ["/var/lib/dlpgate"]
EXPOSE 1344 11344
ENTRYPOINT ["/usr/local/bin/dlpgate"]
CMD ["--log-format", "json", "serve", "--listen", "0.0.0.0:1344", "--data-dir", "/var/lib/dlpgate"]
