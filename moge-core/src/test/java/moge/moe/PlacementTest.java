package moge.moe;

import moge.MogeException;
import moge.model.ModelConfig;
import moge.model.TestModels;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PlacementTest {
    private static final ModelConfig C = TestModels.moge(64, 32, 2, 2, 1, 16, 24, 8, 8, 8, 0, null, 0, false, 10000.0);

    @Test
    void splitGivesContiguousGroups() {
        Placement p = Placement.split(C, 4);
        assertThat(p.devices()).isEqualTo(4);
        assertThat(p.groups(1)).containsExactly(2, 3);
        // 3 experts per group: group 2 = experts 6..8 on device 1
        assertThat(p.deviceOfExpert(5)).isEqualTo(0);
        assertThat(p.deviceOfExpert(6)).isEqualTo(1);
        assertThat(p.deviceOfExpert(23)).isEqualTo(3);
        assertThat(p.expertMask(3)).containsExactly(false, false, false, false, false, false, false, false, false, false, false, false,
                false, false, false, false, false, false, true, true, true, true, true, true);
        assertThat(p.toString()).isEqualTo("device 0: groups 0-1; device 1: groups 2-3; device 2: groups 4-5; device 3: groups 6-7");
        assertThat(Placement.perGroup(C).devices()).isEqualTo(8);
    }

    @Test
    void explicitPlacementMustCoverEveryGroupOnce() {
        Placement p = Placement.of(C, List.of(new int[]{0, 5, 6, 7}, new int[]{1, 2, 3, 4}));
        assertThat(p.deviceOfExpert(16)).isEqualTo(0);
        assertThat(p.deviceOfExpert(3)).isEqualTo(1);
        assertThatThrownBy(() -> Placement.of(C, List.of(new int[]{0, 1, 2, 3}, new int[]{3, 4, 5, 6, 7})))
                .isInstanceOf(MogeException.class).hasMessageContaining("group 3 is placed on two devices");
        assertThatThrownBy(() -> Placement.of(C, List.of(new int[]{0, 1, 2, 3}, new int[]{4, 5, 6})))
                .isInstanceOf(MogeException.class).hasMessageContaining("group 7 is not placed");
        assertThatThrownBy(() -> Placement.of(C, List.of(new int[]{0, 1, 2, 3, 4, 5, 6, 7, 8})))
                .isInstanceOf(MogeException.class).hasMessageContaining("group 8 does not exist");
    }

    @Test
    void groupListsParseAndFormat() {
        assertThat(Placement.parseGroups("0-3", 8)).containsExactly(0, 1, 2, 3);
        assertThat(Placement.parseGroups(" 6,0-1, 4 ", 8)).containsExactly(0, 1, 4, 6);
        assertThat(Placement.formatGroups(new int[]{6, 0, 1, 2, 4})).isEqualTo("0-2,4,6");
        assertThat(Placement.formatGroups(new int[]{3})).isEqualTo("3");
        assertThatThrownBy(() -> Placement.parseGroups("0-8", 8)).hasMessageContaining("group 8 does not exist").hasMessageContaining("0-7");
        assertThatThrownBy(() -> Placement.parseGroups("3-1", 8)).hasMessageContaining("backwards");
        assertThatThrownBy(() -> Placement.parseGroups("a", 8)).hasMessageContaining("'a'");
        assertThatThrownBy(() -> Placement.parseGroups("1,1", 8)).hasMessageContaining("named twice");
        assertThatThrownBy(() -> Placement.parseGroups(",", 8)).hasMessageContaining("no groups");
    }

    @Test
    void threadsAreSharedBetweenDevices() {
        assertThat(LocalDevices.threadsPerDevice(2, 1)).isEqualTo(2);
        assertThat(LocalDevices.threadsPerDevice(2, 2)).isEqualTo(1);
        assertThat(LocalDevices.threadsPerDevice(2, 4)).isEqualTo(1);
        assertThat(LocalDevices.threadsPerDevice(8, 2)).isEqualTo(4);
    }
}
