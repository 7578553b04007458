# kbs_library(<target> [DEPS <targets...>]): static library from the *.c files of the current
# directory (main.c and *_main.c excluded), registered for the test binaries.
function(kbs_library target)
  cmake_parse_arguments(A "" "" "DEPS;SOURCES" ${ARGN})
  if(A_SOURCES)
    set(srcs ${A_SOURCES})
  else()
    file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
    list(FILTER srcs EXCLUDE REGEX ".*/(main|[a-z_-]+_main)\\.c$")
  endif()
  add_library(${target} STATIC ${srcs})
  target_link_libraries(${target} PUBLIC ${A_DEPS})
  set_property(GLOBAL APPEND PROPERTY KBS_LIBS ${target})
endfunction()
