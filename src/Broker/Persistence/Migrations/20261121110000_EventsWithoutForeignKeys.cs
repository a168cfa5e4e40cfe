using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Relay.Broker.Persistence.Migrations
{
    /// <summary>
    /// Drops the foreign keys of <c>events</c>: each was a trigger run per inserted row (about a quarter of
    /// PostgreSQL's insert time for a hook event), and neither can fail (see EventRecordConfiguration).
    /// </summary>
    public partial class EventsWithoutForeignKeys : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "fk_events_machines_machine_id",
                table: "events");

            migrationBuilder.DropForeignKey(
                name: "fk_events_sessions_relay_session_id",
                table: "events");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddForeignKey(
                name: "fk_events_machines_machine_id",
                table: "events",
                column: "machine_id",
                principalTable: "machines",
                principalColumn: "id",
                onDelete: ReferentialAction.Restrict);

            migrationBuilder.AddForeignKey(
                name: "fk_events_sessions_relay_session_id",
                table: "events",
                column: "relay_session_id",
                principalTable: "sessions",
                principalColumn: "id",
                onDelete: ReferentialAction.SetNull);
        }
    }
}
