# The asyncio I/O examples against real clients: socat, nc (netcat-openbsd), Python 3's asyncio,
# curl and wrk (Debian packages: socat netcat-openbsd curl wrk python3). Each test starts the
# example as a server on 127.0.0.1 with a free port, runs the clients, and stops it with SIGTERM
# (the server must then exit 0). Included from examples/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/CMakeLists-io.cmake)
if(NOT NOGIL_BUILD_TESTS)
  return()
endif()

set(nogil_io_dir ${CMAKE_CURRENT_SOURCE_DIR}/io)
find_program(NOGIL_SH sh REQUIRED)
set(nogil_io_missing "")
foreach(tool socat nc curl wrk python3 timeout)
  find_program(NOGIL_TOOL_${tool} ${tool})
  if(NOT NOGIL_TOOL_${tool})
    list(APPEND nogil_io_missing ${tool})
  endif()
endforeach()

if(nogil_io_missing)
  message(WARNING "asyncio I/O client tests skipped, missing: ${nogil_io_missing} "
                  "(apt-get install socat netcat-openbsd curl wrk python3)")
  return()
endif()

add_test(NAME example_echo_server_clients
  COMMAND ${NOGIL_SH} ${nogil_io_dir}/echo_server_clients.sh $<TARGET_FILE:example_echo_server>)
add_test(NAME example_http_server_clients
  COMMAND ${NOGIL_SH} ${nogil_io_dir}/http_server_clients.sh $<TARGET_FILE:example_http_server>)
add_test(NAME example_http_server_limits
  COMMAND ${NOGIL_SH} ${nogil_io_dir}/http_server_limits.sh $<TARGET_FILE:example_http_server>)
add_test(NAME example_crawler_against_http_server
  COMMAND ${NOGIL_SH} ${nogil_io_dir}/crawler_clients.sh $<TARGET_FILE:example_http_server>
          $<TARGET_FILE:example_crawler>)
set_tests_properties(example_echo_server_clients example_http_server_clients example_http_server_limits
                     example_crawler_against_http_server
  PROPERTIES TIMEOUT 180)
# HTTPS: curl (ALPN http/1.1, TLS 1.3) and the crawler against http_server --tls-cert/--tls-key,
# with certificates made by tests/ssl/make_certs.sh (the openssl command).
if(NOGIL_HAS_SSL)
  add_test(NAME example_https_server_clients
    COMMAND ${NOGIL_SH} ${nogil_io_dir}/https_clients.sh $<TARGET_FILE:example_http_server>
            $<TARGET_FILE:example_crawler> ${PROJECT_SOURCE_DIR}/tests/ssl/make_certs.sh)
  set_tests_properties(example_https_server_clients PROPERTIES TIMEOUT 180 LABELS ssl)
endif()
# The time limits and framing checks are attack regressions too (ctest -L abuse).
set_tests_properties(example_http_server_limits PROPERTIES LABELS abuse)
# A wrk load run measures nothing useful under a sanitizer and can trip wrk's 2 s timeout.
if(NOT NOGIL_SANITIZE STREQUAL "")
  set_tests_properties(example_http_server_clients PROPERTIES ENVIRONMENT NOGIL_SKIP_WRK=1)
endif()
