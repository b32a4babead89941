# ioreqd_unit_test(NAME name SOURCES a.c b.c LIBS lib...)
# A cmocka unit test, labelled "unit".
function(ioreqd_unit_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

# ioreqd_e2e_test(NAME name COMMAND cmd args... [LABELS extra...])
# An end-to-end test: runs with the drop-in Xen libraries first on the
# library path and the build tree's programs on PATH.
function(ioreqd_e2e_test)
  cmake_parse_arguments(T "" "NAME" "COMMAND;LABELS" ${ARGN})
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND})
  set_tests_properties(${T_NAME} PROPERTIES
    LABELS "e2e;${T_LABELS}"
    TIMEOUT 300
    ENVIRONMENT "LD_LIBRARY_PATH=${IOREQD_SHIM_LIBDIR};IOREQD_BUILD_DIR=${CMAKE_BINARY_DIR};IOREQD_SHIM_LIBDIR=${IOREQD_SHIM_LIBDIR};IOREQD_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
