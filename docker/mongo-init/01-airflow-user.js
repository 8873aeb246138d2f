// Creates Airflow's MongoDB user ($MONGO_AIRFLOW_USER, password $MONGO_AIRFLOW_PASSWORD), the one
// the mongo_default connection logs in as. The mongo image runs this once, as the root user, on
// the first start with an empty data volume.
//
// Roles: readWrite on the fixed databases the DAGs use (tracking_logs, bi, messages: see
// include/config/), and readWriteAnyDatabase for the edX DAGs' per-course databases, which are
// named after each course id when a package is ingested (analytics.edx.naming), so no fixed
// list can hold them. Neither role administers users, roles or the server, nor drops a
// database: the root user stays for administration only.
const user = process.env.MONGO_AIRFLOW_USER;
const password = process.env.MONGO_AIRFLOW_PASSWORD;
if (!user || !password) {
  throw new Error("MONGO_AIRFLOW_USER and MONGO_AIRFLOW_PASSWORD must be set");
}
const roles = [
  { role: "readWrite", db: "tracking_logs" },
  { role: "readWrite", db: "bi" },
  { role: "readWrite", db: "messages" },
  { role: "readWriteAnyDatabase", db: "admin" },
];
const admin = db.getSiblingDB("admin");
if (admin.getUser(user) === null) {
  admin.createUser({ user: user, pwd: password, roles: roles });
} else {
  admin.updateUser(user, { pwd: password, roles: roles });
}
