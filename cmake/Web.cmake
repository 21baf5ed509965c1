# The dashboard (issue 14; docs/dashboard.md): web/src/ and the JavaScript SDK it imports
# (clients/js/src/) bundled by esbuild (web/build.mjs, npm packages from web/package-lock.json,
# installed by scripts/install-deps) into ${CMAKE_BINARY_DIR}/web/: index.html and assets/ with
# content-hashed names. Beside the binary, so `valtronics serve` from the build tree serves it at
# / (server.web_root empty); cmake/Packaging.cmake installs it to share/valtronics/web.
# Part of ALL: `make build` and `make test` produce it. Nothing it writes is committed.

find_program(VALTRONICS_NODE node REQUIRED)

file(GLOB_RECURSE VALTRONICS_WEB_SOURCES CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/web/src/*.js ${PROJECT_SOURCE_DIR}/web/src/*.css
     ${PROJECT_SOURCE_DIR}/web/src/*.html)
file(GLOB VALTRONICS_WEB_SDK_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/clients/js/src/*.js)
set(VALTRONICS_WEB_DIR ${CMAKE_BINARY_DIR}/web)

add_custom_command(
  OUTPUT ${VALTRONICS_WEB_DIR}/index.html
  COMMAND ${VALTRONICS_NODE} ${PROJECT_SOURCE_DIR}/web/build.mjs --out ${VALTRONICS_WEB_DIR}
  DEPENDS ${VALTRONICS_WEB_SOURCES} ${VALTRONICS_WEB_SDK_SOURCES}
          ${PROJECT_SOURCE_DIR}/web/build.mjs ${PROJECT_SOURCE_DIR}/web/package-lock.json
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/web
  COMMENT "Building the dashboard (web/ -> ${VALTRONICS_WEB_DIR})"
  VERBATIM)
add_custom_target(web ALL DEPENDS ${VALTRONICS_WEB_DIR}/index.html)
