using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Relay.Broker.Persistence.Migrations
{
    /// <summary>
    /// A partial index of the open (queued or sent) prompts by session: every session read counts them, and with only the
    /// (relay_session_id, created_at) index that count read every prompt the session ever had.
    /// </summary>
    public partial class PromptsOpenBySession : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_prompts_relay_session_id",
                table: "prompts",
                column: "relay_session_id",
                filter: "status IN ('queued', 'sent')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_prompts_relay_session_id",
                table: "prompts");
        }
    }
}
