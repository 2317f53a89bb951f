# cmake -DOUT=file.cc -DFILES="a.up.sql|b.up.sql" -P embed_migrations.cmake
# Writes the migrations into C++ so the tarmac binary carries its schema with it.
set(body "")
string(REPLACE "|" ";" FILES "${FILES}")
list(SORT FILES)
foreach(f IN LISTS FILES)
  get_filename_component(name "${f}" NAME)
  if(NOT name MATCHES "^([0-9]+)_[a-z0-9_]+\\.up\\.sql$")
    message(FATAL_ERROR "migration ${name}: expected NNNN_name.up.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  file(READ "${f}" sql)
  string(APPEND body "    {${version}, \"${name}\", R\"tarmac_sql(${sql})tarmac_sql\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from migrations/*.up.sql by cmake/embed_migrations.cmake.
#include \"atc/db/migrate.h\"

namespace tarmac::atc::db {

const std::vector<Migration>& known_migrations() {
  static const std::vector<Migration> migrations = {
${body}  };
  return migrations;
}

}  // namespace tarmac::atc::db
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
