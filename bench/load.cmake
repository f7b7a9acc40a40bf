# End-to-end load benchmark (bench/LOAD.md): bench_load drives earshotd over
# N Unix-socket connections; bench_sink is the transport ceiling. Both are
# plain clients/servers: neither links libearshot. bench/load.sh runs them.
pkg_check_modules(ES_BENCH_UV REQUIRED IMPORTED_TARGET libuv)

add_executable(bench_load load.c)

add_executable(bench_sink sink.c)
target_link_libraries(bench_sink PRIVATE PkgConfig::ES_BENCH_UV)
